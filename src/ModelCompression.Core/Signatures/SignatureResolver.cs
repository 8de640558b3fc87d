using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Signatures;

/// <summary>
/// Fixes the compressed model's real signature for the wrapper: every input and output with a
/// concrete shape. Inputs take their shape from a batch-1 sample (so symbolic sizes such as image
/// width come from the user's data); outputs take the shape ONNX Runtime actually produces for it.
/// Each tensor also keeps the shape the graph declares, so the wrapper knows which dimensions are free.
/// </summary>
public static class SignatureResolver
{
    /// <param name="sample">One batch-1 sample per input, as fed to the model; null when there is no data.</param>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load or run the model; MC1005 a shape cannot be fixed.</exception>
    public static (IReadOnlyList<SidecarTensor> Inputs, IReadOnlyList<SidecarTensor> Outputs) Resolve(
        ModelProto model, IReadOnlyDictionary<string, NdArray>? sample, string modelFile)
    {
        var inputs = GraphInputs(model).ToList();
        var feed = sample ?? ZeroSample(inputs, modelFile);
        using var runner = new ModelRunner(model, modelFile);
        IReadOnlyDictionary<string, NdArray> outputs;
        try
        {
            outputs = runner.Run(feed);
        }
        catch (OnnxRuntimeException e)
        {
            throw OnnxRuntimeFailure.CannotRun(modelFile, sample is null ? "on zeros (to fix its output shapes)" : "on the first validation sample (to fix its output shapes)", e);
        }
        var resolvedInputs = inputs.Select(i =>
        {
            var shape = feed[i.Name].Shape.ToArray();
            // An input without a declared shape is fed exactly as the sample: nothing says which of its dimensions may vary.
            return new SidecarTensor(i.Name, ElementTypes.Name((DataType)i.Type.TensorType.ElemType), shape, Declared(i, shape) ?? Fixed(shape));
        }).ToList();
        var anyFreeInput = resolvedInputs.Any(i => Enumerable.Range(0, i.Shape.Count).Any(i.IsFree));
        var declaredOutputs = model.Graph.Output.ToDictionary(o => o.Name, StringComparer.Ordinal);
        var resolvedOutputs = runner.OutputNames.Select(n =>
        {
            var shape = outputs[n].Shape.ToArray();
            // Undeclared output dimensions follow the inputs: free (ONNX Runtime gives them at run time) when any input is.
            var declared = (declaredOutputs.TryGetValue(n, out var output) ? Declared(output, shape) : null)
                ?? (anyFreeInput ? shape.Select(_ => SidecarTensor.UnnamedDimension).ToList() : Fixed(shape));
            return new SidecarTensor(n, ElementTypes.Name(outputs[n].ElementType), shape, declared);
        }).ToList();
        return (resolvedInputs, resolvedOutputs);
    }

    // The graph's declared shape, or null when it declares none or one of another rank than the real one.
    // A fixed size that disagrees with the real shape is taken from the real shape.
    private static List<string>? Declared(ValueInfoProto value, long[] shape)
    {
        var dims = value.Type?.TensorType?.Shape?.Dim;
        if (dims is null || dims.Count != shape.Length) return null;
        return dims.Select((d, axis) =>
            d.HasDimValue ? shape[axis].ToString(CultureInfo.InvariantCulture)
            : IsUsableName(d.DimParam) ? d.DimParam
            : SidecarTensor.UnnamedDimension).ToList();
    }

    // A name the sidecar can carry and the wrapper can tell from a size: not empty, not digits, no separator.
    private static bool IsUsableName(string name) =>
        name.Length > 0 && !name.All(char.IsAsciiDigit) && !name.Contains(',') && name != SidecarTensor.UnnamedDimension;

    private static List<string> Fixed(long[] shape) => shape.Select(d => d.ToString(CultureInfo.InvariantCulture)).ToList();

    /// <summary>The model's real inputs: graph inputs that are not initializers (older IRs list both).</summary>
    public static IEnumerable<ValueInfoProto> GraphInputs(ModelProto model)
    {
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        return model.Graph.Input.Where(i => !initializers.Contains(i.Name));
    }

    // Without data only static shapes can be fixed: a leading symbolic dimension is the batch axis (1).
    private static Dictionary<string, NdArray> ZeroSample(IEnumerable<ValueInfoProto> inputs, string modelFile)
    {
        var sample = new Dictionary<string, NdArray>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            var type = (DataType)input.Type.TensorType.ElemType;
            var dims = input.Type.TensorType.Shape?.Dim
                ?? throw Unresolved(modelFile, input.Name, "its rank is unknown");
            var shape = new long[dims.Count];
            for (var axis = 0; axis < dims.Count; axis++)
            {
                if (dims[axis].HasDimValue) shape[axis] = dims[axis].DimValue;
                else if (axis == 0) shape[axis] = 1;
                else throw Unresolved(modelFile, input.Name, $"dimension {axis} ('{dims[axis].DimParam}') is not fixed");
            }
            var count = shape.Aggregate(1L, (a, d) => a * d);
            sample[input.Name] = type == DataType.String
                ? new NdArray(shape, Enumerable.Repeat("", (int)count).ToArray())
                : new NdArray(type, shape, new byte[count * ElementTypes.SizeOf(type)]);
        }
        return sample;
    }

    private static CompressionException Unresolved(string modelFile, string input, string reason) =>
        new(DiagnosticCode.SignatureUnresolved, modelFile,
            $"The wrapper needs a fixed shape for input '{input}', but {reason}. Set ValidationData: its first sample fixes the shape.");
}
