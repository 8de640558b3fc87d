using ModelCompression.Core.Tensors;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Training;

/// <summary>Copies a student's trained weights to and from arrays (float32, the parameters' shapes, by initializer name).</summary>
public static class StudentWeights
{
    public static IReadOnlyDictionary<string, NdArray> Read(IStudent student)
    {
        var weights = new Dictionary<string, NdArray>(StringComparer.Ordinal);
        using var _ = no_grad();
        foreach (var (name, parameter) in student.Parameters)
        {
            using var scope = NewDisposeScope();
            var values = parameter.detach().cpu().to_type(ScalarType.Float32).contiguous();
            weights[name] = NdArray.Create<float>(values.shape, values.data<float>().ToArray());
        }
        return weights;
    }

    /// <summary>Overwrites the named parameters (the others keep their values).</summary>
    public static void Write(IStudent student, IReadOnlyDictionary<string, NdArray> weights)
    {
        using var _ = no_grad();
        foreach (var (name, values) in weights)
        {
            var parameter = student.Parameters.TryGetValue(name, out var p) ? p : throw new ArgumentException($"The student has no trained weight '{name}'.", nameof(weights));
            if (!values.Shape.SequenceEqual(parameter.shape))
                throw new ArgumentException($"'{name}' is [{string.Join(", ", values.Shape.ToArray())}], the parameter [{string.Join(", ", parameter.shape)}].", nameof(weights));
            using var scope = NewDisposeScope();
            var source = tensor(values.ToFloats(), values.Shape.ToArray()).to_type(parameter.dtype);
            parameter.copy_(source);
        }
    }
}
