using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>What the techniques offer one model, collected while each makes its offer (see <see cref="CompressionSpace.Find"/>).</summary>
public sealed class LayerOptions
{
    private readonly Dictionary<string, List<LayerSetting>> _settings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _parameters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _opTypes = new(StringComparer.Ordinal);

    public LayerOptions(ModelProto model, Technique techniques, bool dataAwareRounding = true)
    {
        Model = model;
        Techniques = techniques;
        DataAwareRounding = dataAwareRounding;
        foreach (var group in Int8WeightQuantization.Eligible(model).GroupBy(w => w.Node.Name))
            _parameters[group.Key] = group.Sum(w => TensorProtoConverter.ElementCount(w.Initializer));
    }

    public ModelProto Model { get; }

    /// <summary>The techniques allowed.</summary>
    public Technique Techniques { get; }

    /// <summary>Whether options may round with the layers' input moments (<see cref="DataAwareRoundingTechnique"/>).</summary>
    public bool DataAwareRounding { get; }

    /// <summary>The prunable channel groups offered.</summary>
    public List<PruningSpace> Pruning { get; } = [];

    /// <summary>The weights of every layer with a weight known so far (at least 1).</summary>
    public long TotalParameters => Math.Max(1, _parameters.Values.Sum());

    public long ParametersOf(string node) => _parameters.GetValueOrDefault(node);

    public bool Allows(Technique technique) => Techniques.HasFlag(technique);

    /// <summary>Offers <paramref name="settings"/> to a layer (its weight count recorded when not known yet).</summary>
    public void Allow(string node, string opType, IEnumerable<LayerSetting> settings, long? parameters = null)
    {
        if (!_settings.TryGetValue(node, out var list)) _settings[node] = list = [];
        list.AddRange(settings);
        _opTypes[node] = opType;
        if (parameters is { } count) _parameters.TryAdd(node, count);
    }

    /// <summary>The layers and their options, by node name; each layer's options from the most bits to the fewest.</summary>
    public IReadOnlyList<LayerSpace> Layers() =>
        _settings.Select(s => new LayerSpace(s.Key, _opTypes[s.Key], _parameters.GetValueOrDefault(s.Key), s.Value.OrderByDescending(v => v.NominalBits).ToList()))
            .OrderBy(l => l.Node, StringComparer.Ordinal)
            .ToList();
}
