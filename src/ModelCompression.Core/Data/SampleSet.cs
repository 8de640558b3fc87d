using System.Globalization;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Data;

/// <summary>
/// An .npz bound to a model's inputs by the data contract (ARCHITECTURE.md): one array per input,
/// named as the input; an array of the input's rank holds samples along the batch axis (sample
/// <i>i</i> is <c>[i:i+1]</c>), one of rank + 1 holds one whole input per sample (<c>array[i]</c>);
/// every array holds the same number of samples; an optional <c>labels</c> array holds class indices.
/// A subset (<see cref="Subset"/>, <see cref="Split"/>) shares the arrays and keeps each sample's
/// index in the file (<see cref="SourceIndex"/>).
/// </summary>
public sealed class SampleSet
{
    /// <summary>The name of the optional array of class indices.</summary>
    public const string LabelsName = "labels";

    private readonly BoundArray[] _inputs;
    private readonly NdArray? _labels;  // int64 or int32 class indices, as read
    private readonly int[]? _indices;   // the file's sample numbers; null for every sample in order (no array per sample)
    private readonly int _count;

    private SampleSet(string file, BoundArray[] inputs, NdArray? labels, int[]? indices, int count, bool canBatch, string contentSha256)
    {
        File = file;
        _inputs = inputs;
        _labels = labels;
        _indices = indices;
        _count = count;
        CanBatch = canBatch;
        ContentSha256 = contentSha256;
    }

    /// <summary>The data file, as the user named it.</summary>
    public string File { get; }

    /// <summary>The <see cref="ArrayContentHash"/> of every array of the file, computed from the arrays as they were read (the file is read once).</summary>
    public string ContentSha256 { get; }

    public int Count => _count;

    /// <summary>The model inputs the samples feed, in the model's order.</summary>
    public IReadOnlyList<string> InputNames => _inputs.Select(i => i.Input.Name).ToList();

    /// <summary>
    /// Several samples can run at once (<see cref="Batch"/>): every input has a free batch axis and
    /// every array has its input's rank.
    /// </summary>
    public bool CanBatch { get; }

    public bool HasLabels => _labels is not null;

    /// <summary>Opens the .npz at <paramref name="path"/> (given by <paramref name="setting"/>) and binds it to <paramref name="model"/>.</summary>
    /// <exception cref="CompressionException">MC2001..MC2006: the file is missing, unreadable or does not fit the model.</exception>
    public static SampleSet Load(string path, DataSetting setting, ModelProto model)
    {
        using var archive = NpzArchive.Open(path, setting);
        return Bind(archive, model);
    }

    /// <summary>Checks an open .npz against <paramref name="model"/>'s inputs (headers first, so a mismatch reads no data), then reads it.</summary>
    /// <exception cref="CompressionException">MC2002..MC2006: the data is unreadable or does not fit the model.</exception>
    public static SampleSet Bind(NpzArchive archive, ModelProto model)
    {
        var inputs = ModelInput.Of(model);
        CheckNames(archive.Path, archive.Names, inputs);
        var headers = archive.Names.ToDictionary(n => n, archive.Header, StringComparer.Ordinal);
        var perSample = CheckShapes(archive.Path, headers, inputs);
        return Create(archive.Path, inputs, perSample, HasLabelsArray(headers, inputs), archive.Read);
    }

    /// <summary>Binds arrays already in memory (named as in an .npz) to <paramref name="model"/>'s inputs, with the same checks as <see cref="Bind"/>.</summary>
    /// <param name="file">The name used in errors.</param>
    public static SampleSet FromArrays(string file, IReadOnlyDictionary<string, NdArray> arrays, ModelProto model)
    {
        var inputs = ModelInput.Of(model);
        CheckNames(file, arrays.Keys.ToList(), inputs);
        var headers = arrays.ToDictionary(a => a.Key, a => new NpyHeader(a.Value.ElementType, a.Value.Shape.ToArray()), StringComparer.Ordinal);
        var perSample = CheckShapes(file, headers, inputs);
        return Create(file, inputs, perSample, HasLabelsArray(headers, inputs), name => arrays[name]);
    }

    /// <summary>Both sets are views of the same bound arrays (the same file, bound once).</summary>
    public bool SharesDataWith(SampleSet other) => ReferenceEquals(_inputs, other._inputs);

    /// <summary>Where sample <paramref name="index"/> of this set is in the file (a subset keeps the file's numbering).</summary>
    public int SourceIndex(int index) => _indices is null ? index : _indices[index];

    /// <summary>The class index of sample <paramref name="index"/>.</summary>
    public long Label(int index) =>
        _labels is null ? throw new InvalidOperationException($"'{File}' has no labels.") : LabelAt(_labels, SourceIndex(index));

    /// <summary>Sample <paramref name="index"/> as a batch-1 feed: input name → value, as the model takes it.</summary>
    public IReadOnlyDictionary<string, NdArray> Sample(int index)
    {
        var source = SourceIndex(index);
        var feed = new Dictionary<string, NdArray>(_inputs.Length, StringComparer.Ordinal);
        foreach (var bound in _inputs)
        {
            var row = bound.Array.Slice(source, 1);
            feed[bound.Input.Name] = bound.PerSample ? row.Reshape(row.Shape[1..]) : row;
        }
        return feed;
    }

    /// <summary>Samples <paramref name="start"/> .. start + count − 1 stacked along the batch axis; needs <see cref="CanBatch"/>.</summary>
    public IReadOnlyDictionary<string, NdArray> Batch(int start, int count)
    {
        if (!CanBatch) throw new InvalidOperationException($"The samples of '{File}' cannot be batched: the model has an input without a free batch axis, or an array stores one input per sample.");
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start + count, Count, nameof(count));
        var feed = new Dictionary<string, NdArray>(_inputs.Length, StringComparer.Ordinal);
        foreach (var bound in _inputs)
            feed[bound.Input.Name] = _indices is null ? bound.Array.Slice(start, count) : Gather(bound.Array, _indices.AsSpan(start, count));
        return feed;
    }

    /// <summary>The samples at <paramref name="indices"/> (indices into this set), sharing this set's arrays.</summary>
    public SampleSet Subset(IEnumerable<int> indices)
    {
        var chosen = indices.Select(i => (uint)i < (uint)Count ? SourceIndex(i) : throw new ArgumentOutOfRangeException(nameof(indices), $"Sample {i} is outside 0..{Count - 1}.")).ToArray();
        return new SampleSet(File, _inputs, _labels, chosen, chosen.Length, CanBatch, ContentSha256);
    }

    /// <summary>
    /// Splits the set deterministically: <paramref name="count"/> samples spread evenly over the
    /// set (so sorted data, e.g. by class or recording, is represented throughout) and the rest.
    /// </summary>
    public (SampleSet Selected, SampleSet Others) Split(int count)
    {
        var selected = Spread(count);
        var chosen = Enumerable.Range(0, selected.Count).Select(selected.SourceIndex).ToHashSet();
        return (selected, Subset(Enumerable.Range(0, Count).Where(i => !chosen.Contains(SourceIndex(i)))));
    }

    /// <summary>The <see cref="Split"/>'s selected samples alone: <paramref name="count"/> samples spread evenly over the set.</summary>
    public SampleSet Spread(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        // Sample i is selected when the running quota i·count/Count crosses an integer: exactly count picks, evenly spaced.
        return Subset(Enumerable.Range(0, Count).Where(i => (long)(i + 1) * count / Count > (long)i * count / Count));
    }

    private static SampleSet Create(string file, IReadOnlyList<ModelInput> inputs, IReadOnlyDictionary<string, bool> perSample, bool hasLabels, Func<string, NdArray> read)
    {
        var bound = inputs.Select(i => new BoundArray(i, read(i.Name), perSample[i.Name])).ToArray();
        foreach (var b in bound) CheckFinite(file, b.Input.Name, b.Array);
        var count = (int)bound[0].Array.Shape[0];
        var labels = hasLabels ? read(LabelsName) : null;
        if (labels is not null) CheckLabels(file, labels);
        var canBatch = bound.All(b => !b.PerSample && b.Input.HasFreeBatchAxis);
        var arrays = bound.Select(b => KeyValuePair.Create(b.Input.Name, b.Array));
        if (labels is not null) arrays = arrays.Append(KeyValuePair.Create(LabelsName, labels));
        return new SampleSet(file, bound, labels, indices: null, count, canBatch, ArrayContentHash.Of(arrays));
    }

    /// <summary>NaN or infinity in an input makes every score meaningless (a NaN argmax is always class 0), so it is refused.</summary>
    private static void CheckFinite(string file, string name, NdArray array)
    {
        var index = array.ElementType switch
        {
            DataType.Float => IndexOfNonFinite(array.AsSpan<float>()),
            DataType.Double => IndexOfNonFinite(array.AsSpan<double>()),
            DataType.Float16 => IndexOfNonFinite(array.AsSpan<Half>()),
            _ => -1,
        };
        if (index < 0) return;
        var sample = index / Math.Max(1, array.ElementCount / Math.Max(1, array.Shape[0]));
        throw new CompressionException(DiagnosticCode.DataNotFinite, file,
            $"Data file '{file}': array '{name}' holds a NaN or infinite value (sample {sample}, element {index} of the array), and scores measured on it would be meaningless. " +
            $"Remove or repair those samples (e.g. x[np.isfinite(x).all(axis=tuple(range(1, x.ndim)))]) and save the file again.");
    }

    private static long IndexOfNonFinite<T>(ReadOnlySpan<T> values) where T : System.Numerics.IFloatingPointIeee754<T>
    {
        for (var i = 0; i < values.Length; i++)
            if (!T.IsFinite(values[i])) return i;
        return -1;
    }

    // A model input named 'labels' takes that array; only otherwise is it the class indices.
    private static bool HasLabelsArray(IReadOnlyDictionary<string, NpyHeader> headers, IReadOnlyList<ModelInput> inputs) =>
        headers.ContainsKey(LabelsName) && inputs.All(i => i.Name != LabelsName);

    private static void CheckLabels(string file, NdArray labels)
    {
        for (var i = 0; i < labels.ElementCount; i++)
            if (LabelAt(labels, (int)i) is var label && label < 0)
                throw new CompressionException(DiagnosticCode.LabelsInvalid, file,
                    $"Data file '{file}': labels[{i}] is {label}, but labels are class indices (0, 1, ...). Fix the labels array.");
    }

    private static long LabelAt(NdArray labels, int index) =>
        labels.ElementType == DataType.Int64 ? labels.AsSpan<long>()[index] : labels.AsSpan<int>()[index];

    private static void CheckNames(string file, IReadOnlyList<string> names, IReadOnlyList<ModelInput> inputs)
    {
        if (inputs.Count == 0)
            throw new CompressionException(DiagnosticCode.DataNamesMismatch, file,
                $"Data file '{file}' cannot feed the model: the model takes no inputs. Remove the data setting for this model.");
        var inputNames = inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var missing = inputs.Where(i => !names.Contains(i.Name)).Select(i => i.Name).ToList();
        var unexpected = names.Where(n => !inputNames.Contains(n) && n != LabelsName).ToList();
        if (missing.Count == 0 && unexpected.Count == 0) return;
        var problems = new List<string>();
        if (missing.Count > 0) problems.Add($"no array for the input{Plural(missing)} {Quote(missing)}");
        if (unexpected.Count > 0) problems.Add($"the array{Plural(unexpected)} {Quote(unexpected)}, which {(unexpected.Count == 1 ? "is" : "are")} not a model input");
        var model = string.Join(", ", inputs.Select(i => $"'{i.Name}' ({i})"));
        throw new CompressionException(DiagnosticCode.DataNamesMismatch, file,
            $"Data file '{file}' has {string.Join(" and ", problems)}. The model's inputs are {model}. " +
            $"Save one array per input, named exactly as the input, plus optional '{LabelsName}': np.savez_compressed(f, {string.Join(", ", inputs.Select(i => $"{i.Name}=..."))}).");
    }

    /// <summary>Checks ranks, fixed sizes, element types, sample counts and the labels' form; returns, per input, whether it stores one whole input per sample.</summary>
    private static IReadOnlyDictionary<string, bool> CheckShapes(string file, IReadOnlyDictionary<string, NpyHeader> headers, IReadOnlyList<ModelInput> inputs)
    {
        var perSample = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var input in inputs)
            perSample[input.Name] = CheckInput(file, input, headers[input.Name]);

        var counts = inputs.Select(i => (i.Name, Count: headers[i.Name].Shape[0])).ToList();
        if (counts.Select(c => c.Count).Distinct().Count() > 1)
            throw new CompressionException(DiagnosticCode.DataSampleCountMismatch, file,
                $"Data file '{file}': the arrays hold different numbers of samples ({string.Join(", ", counts.Select(c => $"'{c.Name}' {c.Count}"))}); axis 0 of every array enumerates the same samples. Save arrays of equal length.");
        var sampleCount = counts[0].Count;
        if (sampleCount == 0)
            throw new CompressionException(DiagnosticCode.DataSampleCountMismatch, file,
                $"Data file '{file}' holds no samples (axis 0 of {Quote(counts.Select(c => c.Name).ToList())} has length 0). Save at least one sample.");
        if (sampleCount > Array.MaxLength)
            throw new CompressionException(DiagnosticCode.DataSampleCountMismatch, file,
                string.Create(CultureInfo.InvariantCulture, $"Data file '{file}' holds {sampleCount:N0} samples, more than this tool handles; use fewer."));

        if (HasLabelsArray(headers, inputs))
        {
            var labels = headers[LabelsName];
            if (labels.ElementType is not (DataType.Int64 or DataType.Int32))
                throw new CompressionException(DiagnosticCode.LabelsInvalid, file,
                    $"Data file '{file}': '{LabelsName}' holds {Npy.DtypeName(labels.ElementType)}, but labels are class indices: save them as int64 (labels.astype(np.int64)).");
            if (labels.Rank != 1 || labels.Shape[0] != sampleCount)
                throw new CompressionException(DiagnosticCode.LabelsInvalid, file,
                    $"Data file '{file}': '{LabelsName}' has shape [{string.Join(", ", labels.Shape)}], but it must hold one class index per sample: [{sampleCount}].");
        }
        return perSample;
    }

    // Returns true when the array stores one whole input per sample (rank + 1), false when axis 0 is the batch axis.
    private static bool CheckInput(string file, ModelInput input, NpyHeader array)
    {
        if (input.Dims is not { } dims)
            throw Mismatch(file, input, array, "the model does not declare that input's rank, so the data contract cannot tell how samples are stored", "give the model input a shape");
        if (array.ElementType != input.ElementType)
            throw Mismatch(file, input, array, $"the input takes {Npy.DtypeName(input.ElementType)}, not {Npy.DtypeName(array.ElementType)} (no conversion is made)",
                $"save it as {Npy.DtypeName(input.ElementType)} (x.astype('{Npy.DtypeName(input.ElementType)}'))");

        var rank = dims.Count;
        var sampleDims = rank == 0 ? "" : $", {string.Join(", ", input.DimNames)}";
        var layouts = rank == 0
            ? $"[S] (sample i = x[i], a scalar)"
            : $"[S{string.Join("", input.DimNames.Skip(1).Select(d => ", " + d))}] (axis 0 is the batch axis, sample i = x[i:i+1]) or [S{sampleDims}] (sample i = x[i], fed as is)";
        if (array.Rank == rank + 1)
        {
            for (var axis = 0; axis < rank; axis++)
                if (dims[axis] is { } size && array.Shape[axis + 1] != size)
                    throw Mismatch(file, input, array, $"each sample x[i] must fit the input, but axis {axis + 1} is {array.Shape[axis + 1]} where the input's dimension {axis} is {size}", $"store it as {layouts}");
            return true;
        }
        if (array.Rank == rank && rank > 0)
        {
            if (dims[0] is { } batch && batch != 1)
                throw Mismatch(file, input, array, $"the input's axis 0 is fixed at {batch}, so it is not a batch axis", $"store one whole input per sample: [S{sampleDims}]");
            for (var axis = 1; axis < rank; axis++)
                if (dims[axis] is { } size && array.Shape[axis] != size)
                    throw Mismatch(file, input, array, $"axis {axis} is {array.Shape[axis]} where the input's is {size}", $"store it as {layouts}");
            return false;
        }
        throw Mismatch(file, input, array, $"an array for a rank-{rank} input must have rank {(rank == 0 ? "1" : $"{rank} or {rank + 1}")}, not {array.Rank}", $"store it as {layouts}");
    }

    private static CompressionException Mismatch(string file, ModelInput input, NpyHeader array, string problem, string fix) =>
        new(DiagnosticCode.DataShapeMismatch, file,
            $"Data file '{file}': array '{input.Name}' is {array}, but the model's input '{input.Name}' is {input}: {problem}. Fix: {fix}.");

    private static NdArray Gather(NdArray array, ReadOnlySpan<int> rows)
    {
        var contiguous = true;
        for (var i = 1; i < rows.Length && contiguous; i++) contiguous = rows[i] == rows[0] + i;
        if (contiguous) return array.Slice(rows[0], rows.Length);
        var rowBytes = (int)(array.Data.LongLength / array.Shape[0]);
        var data = new byte[rowBytes * rows.Length];
        for (var i = 0; i < rows.Length; i++)
            array.Data.AsSpan(rows[i] * rowBytes, rowBytes).CopyTo(data.AsSpan(i * rowBytes));
        var shape = array.Shape.ToArray();
        shape[0] = rows.Length;
        return new NdArray(array.ElementType, shape, data);
    }

    private static string Plural(IReadOnlyCollection<string> names) => names.Count == 1 ? "" : "s";

    private static string Quote(IReadOnlyCollection<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

    private sealed record BoundArray(ModelInput Input, NdArray Array, bool PerSample);
}
