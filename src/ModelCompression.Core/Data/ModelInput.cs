using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;

namespace ModelCompression.Core.Data;

/// <summary>
/// One input of a model as the data contract sees it: name, element type and dimensions, each a
/// fixed size or null when free (symbolic such as <c>N</c>, or unknown).
/// </summary>
internal sealed record ModelInput(string Name, DataType ElementType, IReadOnlyList<long?>? Dims, IReadOnlyList<string> DimNames)
{
    /// <summary>The model's real inputs (graph inputs that are not initializers), in graph order.</summary>
    public static IReadOnlyList<ModelInput> Of(ModelProto model) =>
        SignatureResolver.GraphInputs(model).Select(From).ToList();

    public int? Rank => Dims?.Count;

    /// <summary>Axis 0 can take any number of samples at once.</summary>
    public bool HasFreeBatchAxis => Dims is { Count: > 0 } && Dims[0] is null;

    public override string ToString() =>
        $"{Npy.DtypeName(ElementType)} {(Dims is null ? "of unknown shape" : $"[{string.Join(", ", DimNames)}]")}";

    private static ModelInput From(ValueInfoProto info)
    {
        var tensor = info.Type?.TensorType;
        var dims = tensor?.Shape?.Dim;
        return new ModelInput(
            info.Name,
            (DataType)(tensor?.ElemType ?? 0),
            dims?.Select(d => d.HasDimValue ? d.DimValue : (long?)null).ToList(),
            dims?.Select(d => d.HasDimValue ? d.DimValue.ToString() : d.DimParam.Length > 0 ? d.DimParam : "?").ToList() ?? []);
    }
}
