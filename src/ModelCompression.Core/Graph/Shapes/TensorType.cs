using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Graph.Shapes;

/// <summary>
/// What is known statically about a value: its element type (<see cref="DataType.Undefined"/> when
/// unknown) and its dimensions (null when even the rank is unknown).
/// </summary>
public sealed record TensorType(DataType ElementType, IReadOnlyList<Dim>? Dims)
{
    public static TensorType Unknown { get; } = new(DataType.Undefined, null);

    public static TensorType Of(DataType elementType, params long[] dims) => new(elementType, dims.Select(Dim.Of).ToArray());

    public int? Rank => Dims?.Count;

    /// <summary>The shape when every dimension is known; otherwise null.</summary>
    public long[]? KnownShape => Dims is not null && Dims.All(d => d.IsKnown) ? Dims.Select(d => d.Value!.Value).ToArray() : null;

    public TensorType WithElementType(DataType elementType) => this with { ElementType = elementType };

    /// <summary>The type a value_info or graph input declares; unknown for non-tensor types.</summary>
    public static TensorType FromProto(TypeProto? type)
    {
        if (type?.TensorType is not { } tensor) return Unknown;
        IReadOnlyList<Dim>? dims = tensor.Shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => Dim.Of(d.DimValue),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when d.DimParam.Length > 0 => Dim.Named(d.DimParam),
            _ => Dim.Unknown,
        }).ToArray();
        return new TensorType((DataType)tensor.ElemType, dims);
    }

    public static TensorType FromTensor(TensorProto tensor) => Of((DataType)tensor.DataType, tensor.Dims.ToArray());

    /// <summary>This inferred type completed and corrected by a declared one (the declaration wins where it says something).</summary>
    public TensorType RefinedBy(TensorType declared)
    {
        var elementType = declared.ElementType != DataType.Undefined ? declared.ElementType : ElementType;
        IReadOnlyList<Dim>? dims;
        if (declared.Dims is null) dims = Dims;
        else if (Dims is null || Dims.Count != declared.Dims.Count) dims = declared.Dims;
        else dims = declared.Dims.Zip(Dims, Dim.Merge).ToArray();
        return new TensorType(elementType, dims);
    }

    /// <summary>What two alternatives (If branches) have in common.</summary>
    public static TensorType Common(TensorType a, TensorType b)
    {
        var elementType = a.ElementType == b.ElementType ? a.ElementType : DataType.Undefined;
        var dims = a.Dims is not null && b.Dims is not null && a.Dims.Count == b.Dims.Count
            ? a.Dims.Zip(b.Dims, Dim.Common).ToArray()
            : null;
        return new TensorType(elementType, dims);
    }

    public bool Equals(TensorType? other) =>
        other is not null && ElementType == other.ElementType
        && (Dims is null ? other.Dims is null : other.Dims is not null && Dims.SequenceEqual(other.Dims));

    public override int GetHashCode() => HashCode.Combine(ElementType, Dims?.Count);

    public override string ToString() =>
        $"{(ElementType == DataType.Undefined ? "?" : Tensors.ElementTypes.Name(ElementType))}{(Dims is null ? "[*]" : $"[{string.Join(",", Dims)}]")}";
}
