using ModelCompression.Core.Tensors;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Training;

/// <summary>One mini-batch: the student's inputs by name, the teacher's outputs in the student's output order, labels or null.</summary>
internal sealed record Batch(IReadOnlyDictionary<string, Tensor> Inputs, IReadOnlyList<Tensor> TeacherOutputs, Tensor? Labels, int Count);

/// <summary>
/// <see cref="TrainingData"/> as whole-set tensors, made once (the data is held twice: as arrays and as tensors), from
/// which each batch gathers its rows. The batch's tensors belong to the caller's dispose scope.
/// </summary>
internal sealed class BatchSource : IDisposable
{
    private readonly Dictionary<string, Tensor> _inputs = new(StringComparer.Ordinal);
    private readonly List<Tensor> _teacherOutputs = [];
    private readonly Tensor? _labels;

    public BatchSource(TrainingData data, IStudent student)
    {
        Count = data.Count;
        try
        {
            foreach (var name in student.InputNames)
                _inputs[name] = ToTensor(data.Inputs.TryGetValue(name, out var input) ? input : throw new ArgumentException($"The data has no array for the student's input '{name}'.")).DetachFromDisposeScope();
            foreach (var name in student.OutputNames)
                _teacherOutputs.Add(ToTensor(data.TeacherOutputs.TryGetValue(name, out var output) ? output : throw new ArgumentException($"The data has no teacher output '{name}'."), asFloat: true).DetachFromDisposeScope());
            if (data.Labels is not null) _labels = tensor(data.Labels.ToArray(), [Count]).DetachFromDisposeScope();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Count { get; }

    public bool HasLabels => _labels is not null;

    /// <summary>Whether every input is floating point, so that two samples can be mixed.</summary>
    public bool InputsAreFloat => _inputs.Values.All(t => t.is_floating_point());

    public Batch Take(ReadOnlySpan<int> rows)
    {
        var index = tensor(rows.ToArray().Select(r => (long)r).ToArray(), [rows.Length]);
        return new Batch(
            _inputs.ToDictionary(i => i.Key, i => i.Value.index_select(0, index), StringComparer.Ordinal),
            _teacherOutputs.Select(t => t.index_select(0, index)).ToList(),
            _labels?.index_select(0, index),
            rows.Length);
    }

    /// <summary>The teacher's outputs as arrays, for checking which outputs are probability distributions.</summary>
    public IReadOnlyList<Tensor> TeacherOutputs => _teacherOutputs;

    public void Dispose()
    {
        foreach (var t in _inputs.Values) t.Dispose();
        foreach (var t in _teacherOutputs) t.Dispose();
        _labels?.Dispose();
    }

    internal static Tensor ToTensor(NdArray array, bool asFloat = false)
    {
        var shape = array.Shape.ToArray();
        return array.ElementType switch
        {
            _ when asFloat => tensor(array.ToFloats(), shape),
            DataType.Float => tensor(array.AsSpan<float>().ToArray(), shape),
            DataType.Double => tensor(array.AsSpan<double>().ToArray(), shape),
            DataType.Int64 => tensor(array.AsSpan<long>().ToArray(), shape),
            DataType.Int32 => tensor(array.AsSpan<int>().ToArray(), shape),
            DataType.Bool => tensor(array.AsSpan<bool>().ToArray(), shape),
            _ => throw new NotSupportedException($"Inputs of type {ElementTypes.Name(array.ElementType)} are not supported by the trainer."),
        };
    }

    /// <summary>A float tensor as an array (for the teacher callback).</summary>
    internal static NdArray ToArray(Tensor value)
    {
        using var contiguous = value.detach().cpu().contiguous();
        return NdArray.Create<float>(contiguous.shape, contiguous.data<float>().ToArray());
    }
}
