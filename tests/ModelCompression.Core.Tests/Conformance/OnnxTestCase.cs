using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Tests.Conformance;

/// <summary>
/// One directory of ONNX's backend test data: <c>model.onnx</c> and <c>test_data_set_*/input_N.pb</c>,
/// where input N feeds the model's N-th graph input (as ONNX's own test runner binds them).
/// </summary>
internal sealed class OnnxTestCase(string suite, string directory)
{
    public string Suite { get; } = suite;

    public string Directory { get; } = directory;

    public string Name => $"{Suite}/{Path.GetFileName(Directory)}";

    public string ModelPath => Path.Combine(Directory, "model.onnx");

    public static IEnumerable<OnnxTestCase> Find(string root, IEnumerable<string> suites) =>
        suites.Where(s => System.IO.Directory.Exists(Path.Combine(root, s)))
            .SelectMany(s => System.IO.Directory.EnumerateDirectories(Path.Combine(root, s)).Select(d => new OnnxTestCase(s, d)))
            .Where(c => File.Exists(c.ModelPath))
            .OrderBy(c => c.Name, StringComparer.Ordinal);

    /// <summary>The graph inputs (by position) whose type is not a tensor: sequences, optionals, maps.</summary>
    public static IEnumerable<ValueInfoProto> NonTensorInputs(ModelProto model) =>
        model.Graph.Input.Where(i => i.Type?.ValueCase is not (null or TypeProto.ValueOneofCase.TensorType or TypeProto.ValueOneofCase.None));

    /// <summary>Each test data set's inputs, named after the graph inputs they feed.</summary>
    /// <exception cref="NotSupportedException">An input tensor's element type has no <see cref="NdArray"/> form.</exception>
    public IReadOnlyList<Dictionary<string, NdArray>> ReadDataSets(ModelProto model)
    {
        var sets = new List<Dictionary<string, NdArray>>();
        foreach (var setDirectory in System.IO.Directory.EnumerateDirectories(Directory, "test_data_set_*").Order(StringComparer.Ordinal))
        {
            var inputs = new Dictionary<string, NdArray>(StringComparer.Ordinal);
            for (var i = 0; File.Exists(Path.Combine(setDirectory, $"input_{i}.pb")) && i < model.Graph.Input.Count; i++)
            {
                var tensor = TensorProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(setDirectory, $"input_{i}.pb")));
                inputs[model.Graph.Input[i].Name] = TensorProtoConverter.ToNdArray(tensor);
            }
            sets.Add(inputs);
        }
        return sets;
    }
}
