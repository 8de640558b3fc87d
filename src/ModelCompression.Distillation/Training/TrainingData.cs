using ModelCompression.Core.Data;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Distillation.Training;

/// <summary>
/// Samples for the trainer, batch axis first in every array: the student's inputs by name, the teacher's outputs on
/// them by output name, and optionally one class index per sample (for the first output).
/// </summary>
public sealed record TrainingData
{
    public TrainingData(IReadOnlyDictionary<string, NdArray> inputs, IReadOnlyDictionary<string, NdArray> teacherOutputs, IReadOnlyList<long>? labels = null)
    {
        if (inputs.Count == 0) throw new ArgumentException("At least one input is needed.", nameof(inputs));
        if (teacherOutputs.Count == 0) throw new ArgumentException("At least one teacher output is needed.", nameof(teacherOutputs));
        var counts = inputs.Concat(teacherOutputs).Select(a => (a.Key, Count: a.Value.Rank == 0 ? 0 : a.Value.Shape[0])).ToList();
        if (counts.Select(c => c.Count).Distinct().Count() != 1)
            throw new ArgumentException($"Every array holds the same samples along axis 0: {string.Join(", ", counts.Select(c => $"'{c.Key}' {c.Count}"))}.");
        Count = checked((int)counts[0].Count);
        if (Count == 0) throw new ArgumentException("There are no samples.");
        if (labels is not null && labels.Count != Count)
            throw new ArgumentException($"{labels.Count} labels for {Count} samples.", nameof(labels));
        Inputs = inputs;
        TeacherOutputs = teacherOutputs;
        Labels = labels;
    }

    public IReadOnlyDictionary<string, NdArray> Inputs { get; }

    public IReadOnlyDictionary<string, NdArray> TeacherOutputs { get; }

    /// <summary>Class indices of the first output, one per sample; null without labels.</summary>
    public IReadOnlyList<long>? Labels { get; }

    public int Count { get; }

    /// <summary>Every sample of <paramref name="samples"/> (which must be batchable) with the teacher's outputs on them.</summary>
    public static TrainingData From(SampleSet samples, IReadOnlyDictionary<string, NdArray> teacherOutputs)
    {
        if (!samples.CanBatch)
            throw new ArgumentException($"The samples of '{samples.File}' cannot be stacked along a batch axis, so they cannot be trained on in batches.", nameof(samples));
        var labels = samples.HasLabels ? Enumerable.Range(0, samples.Count).Select(samples.Label).ToArray() : null;
        return new TrainingData(samples.Batch(0, samples.Count), teacherOutputs, labels);
    }
}
