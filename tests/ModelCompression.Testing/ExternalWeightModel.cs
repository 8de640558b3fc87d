using ModelCompression.Core.Onnx;

namespace ModelCompression.Testing;

/// <summary>
/// A one-layer model (<c>y = x · w</c>, x float [N, 4], w float [4, 4]) whose weight <c>w</c> is
/// stored as external data with exactly the entries given, so that tests can write what an
/// untrusted model may hold (a location outside its folder, an offset that is not a number...).
/// </summary>
public static class ExternalWeightModel
{
    public const string WeightName = "w";
    public const int Width = 4;

    /// <summary>The bytes <c>w</c> takes: 16 floats.</summary>
    public const int WeightBytes = Width * Width * sizeof(float);

    /// <param name="dims">The dims <c>w</c> declares; [4, 4] when null.</param>
    public static ModelProto Create(string location, string? offset = null, string? length = null, long[]? dims = null)
    {
        List<(string, string)> entries = [(ExternalData.LocationKey, location)];
        if (offset is not null) entries.Add((ExternalData.OffsetKey, offset));
        if (length is not null) entries.Add((ExternalData.LengthKey, length));
        return Create(entries, dims);
    }

    /// <summary>The model with <c>w</c>'s external-data entries verbatim, in order (duplicates included).</summary>
    public static ModelProto Create(IEnumerable<(string Key, string Value)> entries, long[]? dims = null)
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", Width)
            .Initializer(WeightName, new float[Width * Width], Width, Width)
            .Node("MatMul", ["x", WeightName], ["y"])
            .Output("y", DataType.Float, "N", Width)
            .Build();
        var weight = model.Graph.Initializer.Single();
        weight.ClearRawData();
        weight.DataLocation = TensorProto.Types.DataLocation.External;
        foreach (var (key, value) in entries)
            weight.ExternalData.Add(new StringStringEntryProto { Key = key, Value = value });
        if (dims is not null)
        {
            weight.Dims.Clear();
            weight.Dims.AddRange(dims);
        }
        return model;
    }

    /// <summary><paramref name="samples"/> rows of x for the model, as an .npz at <paramref name="path"/>.</summary>
    public static void WriteData(string path, int samples = 8)
    {
        var values = Enumerable.Range(0, samples * Width).Select(i => (i % 7) / 7f).ToArray();
        Core.Data.NpzArchive.Write(path, [new("x", Core.Tensors.NdArray.Create<float>([samples, Width], values))]);
    }
}
