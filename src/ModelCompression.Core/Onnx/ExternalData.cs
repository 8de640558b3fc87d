using Google.Protobuf;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Onnx;

/// <summary>
/// ONNX external data: tensors whose bytes live in side files named by <c>external_data</c>
/// entries (<c>location</c>, <c>offset</c>, <c>length</c>), relative to the model's directory.
/// </summary>
public static class ExternalData
{
    public const string LocationKey = "location";
    public const string OffsetKey = "offset";
    public const string LengthKey = "length";

    /// <summary>Reads every external tensor of <paramref name="model"/> into its raw_data.</summary>
    public static void Inline(ModelProto model, string modelPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(modelPath))!;
        foreach (var tensor in OnnxWalk.Tensors(model).Where(IsExternal))
        {
            var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            if (!entries.TryGetValue(LocationKey, out var location) || string.IsNullOrEmpty(location))
                throw new CompressionException(DiagnosticCode.ModelInvalid, modelPath,
                    $"Tensor '{tensor.Name}' is marked as external data but names no location. Re-export the model with its external data.");
            var file = Path.Combine(directory, location);
            if (!File.Exists(file))
                throw new CompressionException(DiagnosticCode.ExternalDataMissing, modelPath,
                    $"Tensor '{tensor.Name}' stores its data in '{location}', which does not exist next to the model. Copy the external-data file beside the model.");
            var offset = entries.TryGetValue(OffsetKey, out var o) ? long.Parse(o) : 0;
            var fileLength = new FileInfo(file).Length;
            var length = entries.TryGetValue(LengthKey, out var l) ? long.Parse(l) : fileLength - offset;
            if (offset < 0 || length < 0 || offset + length > fileLength)
                throw new CompressionException(DiagnosticCode.ExternalDataMissing, modelPath,
                    $"Tensor '{tensor.Name}' needs bytes {offset}..{offset + length} of '{location}', but the file holds {fileLength} bytes. The external-data file is truncated or belongs to another model.");
            var bytes = new byte[length];
            using (var stream = File.OpenRead(file))
            {
                stream.Seek(offset, SeekOrigin.Begin);
                stream.ReadExactly(bytes);
            }
            tensor.RawData = ByteString.CopyFrom(bytes);
            tensor.ExternalData.Clear();
            tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        }
    }

    /// <summary>
    /// Moves the raw data of every initializer of at least <paramref name="threshold"/> bytes out of
    /// <paramref name="model"/> into <paramref name="dataStream"/> (offsets aligned to 4 KiB, as
    /// ONNX does for memory mapping) and points the tensors at <paramref name="location"/>.
    /// </summary>
    public static void Externalize(ModelProto model, string location, Stream dataStream, long threshold)
    {
        const int alignment = 4096;
        foreach (var tensor in OnnxWalk.Graphs(model).SelectMany(g => g.Initializer))
        {
            if (IsExternal(tensor) || tensor.RawData.Length < threshold) continue;
            var padding = (alignment - dataStream.Position % alignment) % alignment;
            dataStream.Write(new byte[padding]);
            var offset = dataStream.Position;
            tensor.RawData.WriteTo(dataStream);
            tensor.ExternalData.Add(new StringStringEntryProto { Key = LocationKey, Value = location });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = OffsetKey, Value = offset.ToString() });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = LengthKey, Value = tensor.RawData.Length.ToString() });
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.RawData = ByteString.Empty;
        }
    }

    public static bool IsExternal(TensorProto tensor) => tensor.DataLocation == TensorProto.Types.DataLocation.External;
}
