using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelCompression.Core.Tensors;

namespace ModelCompression.WrapperBench;

/// <summary>
/// The ways to run a session by hand, at one batch size, over the same inputs: OrtIoBinding over pinned buffers,
/// <c>Run</c> with NamedOnnxValue inputs (made once, or per call with the outputs copied out, as ONNX Runtime's C# docs
/// show it), <c>Run</c> with OrtValue arrays.
/// </summary>
internal sealed class HandWrittenPaths : IDisposable
{
    public const string IoBindingPath = "OrtIoBinding";
    public const string NamedOnnxValuePath = "NamedOnnxValue";
    public const string NamedOnnxValuePerCallPath = "NamedOnnxValue per call";
    public const string OrtValueArraysPath = "OrtValue arrays";

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly PinnedTensor[] _inputs;
    private readonly OrtValue[] _inputValues;
    private readonly NamedOnnxValue[] _namedInputs;
    private readonly (string Name, Array Values, int[] Dimensions)[] _inputArrays;
    private readonly PinnedTensor[] _outputs;
    private readonly OrtIoBinding _binding;

    /// <param name="feed">Input name → value, as the session takes it.</param>
    public HandWrittenPaths(InferenceSession session, RunOptions runOptions, IReadOnlyDictionary<string, NdArray> feed)
    {
        _session = session;
        _runOptions = runOptions;
        _inputNames = [.. session.InputNames];
        _outputNames = [.. session.OutputNames];
        _inputs = [.. _inputNames.Select(name => PinnedTensor.Create((TensorElementType)feed[name].ElementType, feed[name].Shape.ToArray(), feed[name].Data))];
        _inputValues = [.. _inputs.Select(input => input.Value)];
        _inputArrays = [.. _inputNames.Select(name => InputArray(name, feed[name]))];
        _namedInputs = [.. _inputArrays.Select(NamedTensor)];
        // A hand-written program knows its output shapes; here ONNX Runtime tells them, for this feed.
        using (var outputs = RunOrtValueArrays())
        {
            _outputs = [.. outputs.Select(o => PinnedTensor.Create(o.GetTensorTypeAndShape().ElementDataType, o.GetTensorTypeAndShape().Shape, o.GetTensorMutableRawData()))];
        }
        _binding = session.CreateIoBinding();
        for (var i = 0; i < _inputNames.Length; i++) _binding.BindInput(_inputNames[i], _inputs[i].Value);
        for (var i = 0; i < _outputNames.Length; i++) _binding.BindOutput(_outputNames[i], _outputs[i].Value);
    }

    /// <summary>The session's output names, in the order of <see cref="OutputsOfEveryPath"/>.</summary>
    public IReadOnlyList<string> OutputNames => _outputNames;

    public void RunIoBinding() => _session.RunWithBinding(_runOptions, _binding);

    public IDisposableReadOnlyCollection<DisposableNamedOnnxValue> RunNamedOnnxValues() => _session.Run(_namedInputs);

    /// <summary>As ONNX Runtime's C# docs show it: tensors over the caller's arrays made per call, every output copied out.</summary>
    public float[][] RunNamedOnnxValuesPerCall()
    {
        var inputs = new List<NamedOnnxValue>(_inputNames.Length);
        foreach (var input in _inputArrays) inputs.Add(NamedTensor(input));
        using var results = _session.Run(inputs);
        return [.. results.Select(r => r.AsTensor<float>().ToArray())];
    }

    public IDisposableReadOnlyCollection<OrtValue> RunOrtValueArrays() => _session.Run(_runOptions, _inputNames, _inputValues, _outputNames);

    /// <summary>Runs each path once: path → the bytes of every output, in <see cref="OutputNames"/> order.</summary>
    public IReadOnlyDictionary<string, byte[][]> OutputsOfEveryPath()
    {
        RunIoBinding();
        var ioBinding = _outputs.Select(o => o.Bytes.ToArray()).ToArray();
        using var named = RunNamedOnnxValues();
        using var ortValues = RunOrtValueArrays();
        return new Dictionary<string, byte[][]>
        {
            [IoBindingPath] = ioBinding,
            [NamedOnnxValuePath] = [.. named.Select(FloatBytes)],
            [NamedOnnxValuePerCallPath] = [.. RunNamedOnnxValuesPerCall().Select(o => MemoryMarshal.AsBytes(o.AsSpan()).ToArray())],
            [OrtValueArraysPath] = [.. ortValues.Select(o => o.GetTensorMutableRawData().ToArray())],
        };
    }

    public void Dispose()
    {
        _binding.Dispose();
        foreach (var tensor in _inputs.Concat(_outputs)) tensor.Dispose();
    }

    // The corpus feeds float tensors and silero-vad's int64 sample rate: the arrays a caller would hold.
    private static (string, Array, int[]) InputArray(string name, NdArray value) => (name, value.ElementType switch
    {
        DataType.Float => value.ToFloats(),
        DataType.Int64 => value.ToInt64s(),
        _ => throw new NotSupportedException($"Input '{name}' is {value.ElementType}; the NamedOnnxValue path here feeds float and int64 tensors."),
    }, [.. value.Shape.ToArray().Select(d => (int)d)]);

    private static NamedOnnxValue NamedTensor((string Name, Array Values, int[] Dimensions) input) => input.Values switch
    {
        float[] floats => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<float>(floats, input.Dimensions)),
        long[] longs => NamedOnnxValue.CreateFromTensor(input.Name, new DenseTensor<long>(longs, input.Dimensions)),
        _ => throw new NotSupportedException(input.Values.GetType().Name),
    };

    // Every corpus output is float.
    private static byte[] FloatBytes(DisposableNamedOnnxValue output) =>
        output.ElementType == TensorElementType.Float
            ? MemoryMarshal.AsBytes(output.AsTensor<float>().ToArray().AsSpan()).ToArray()
            : throw new NotSupportedException($"Output '{output.Name}' is {output.ElementType}; the NamedOnnxValue path here reads float tensors.");
}
