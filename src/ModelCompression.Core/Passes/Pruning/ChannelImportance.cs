namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// Scores a group's channels from every weight tensor that loses slices with them: the producers' output slices,
/// depthwise filters and the consumers' input slices (a channel whose outgoing weights are tiny matters little
/// however large its filter). Each tensor's per-channel scores are divided by their mean over the group's channels
/// before the tensors are summed, so a wide Gemm does not drown a small Conv (torch-pruning's group importance with
/// the "mean" normalizer, summed).
/// </summary>
internal static class ChannelImportance
{
    /// <summary>The score of each of the group's classes (higher = more important).</summary>
    public static IReadOnlyDictionary<int, double> Score(ChannelDependencies deps, GroupChannels group, ImportanceCriterion criterion)
    {
        var total = group.Classes.ToDictionary(c => c, _ => 0.0);
        foreach (var slice in deps.Slices.Where(s => s.IsWeight))
        {
            var classOf = slice.Ids.Select(id => id == ChannelLayout.Untracked ? -1 : deps.Classes.Find(id)).ToArray();
            if (!classOf.Any(total.ContainsKey)) continue;
            if (!deps.Graph.TryGetConstant(slice.Node.Input[slice.Input], out var tensor)) continue;
            var values = Vectors(tensor.ToFloats(), tensor.Shape.ToArray(), slice.Axis, classOf, total);
            var scores = criterion switch
            {
                ImportanceCriterion.L1 => values.ToDictionary(v => v.Key, v => v.Value.Sum(x => (double)Math.Abs(x))),
                ImportanceCriterion.L2 => values.ToDictionary(v => v.Key, v => Math.Sqrt(v.Value.Sum(x => (double)x * x))),
                ImportanceCriterion.GeometricMedian => DistancesToOthers(values),
                _ => throw new ArgumentOutOfRangeException(nameof(criterion), criterion, null),
            };
            var mean = scores.Values.Average();
            if (!(mean > 0)) continue; // an all-zero tensor ranks nothing
            foreach (var (c, score) in scores) total[c] += score / mean;
        }
        return total;
    }

    // The elements of each class of the group, in storage order (a class may own several positions of the axis).
    private static Dictionary<int, List<float>> Vectors(float[] data, long[] shape, int axis, int[] classOf, IReadOnlyDictionary<int, double> group)
    {
        var inner = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        var length = shape[axis];
        var vectors = new Dictionary<int, List<float>>();
        for (var i = 0L; i < data.LongLength; i++)
        {
            var c = classOf[i / inner % length];
            if (!group.ContainsKey(c)) continue;
            if (!vectors.TryGetValue(c, out var vector)) vectors[c] = vector = [];
            vector.Add(data[i]);
        }
        return vectors;
    }

    // FPGM: Σ_j ‖v_c − v_j‖₂ over the other channels (vectors of unequal length are compared as if zero-padded).
    private static Dictionary<int, double> DistancesToOthers(Dictionary<int, List<float>> vectors)
    {
        var keys = vectors.Keys.ToArray();
        var sums = new double[keys.Length];
        for (var a = 0; a < keys.Length; a++)
            for (var b = a + 1; b < keys.Length; b++)
            {
                var (x, y) = (vectors[keys[a]], vectors[keys[b]]);
                var squared = 0.0;
                for (var i = 0; i < Math.Max(x.Count, y.Count); i++)
                {
                    var d = (i < x.Count ? x[i] : 0.0) - (i < y.Count ? y[i] : 0.0);
                    squared += d * d;
                }
                var distance = Math.Sqrt(squared);
                sums[a] += distance;
                sums[b] += distance;
            }
        return keys.Select((k, i) => (k, sums[i])).ToDictionary(p => p.k, p => p.Item2);
    }
}
