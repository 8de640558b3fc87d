using Google.Protobuf;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Onnx;

/// <summary>
/// ONNX external data: tensors whose bytes live in side files named by <c>external_data</c>
/// entries (<c>location</c>, <c>offset</c>, <c>length</c>), relative to the model's folder and
/// never outside it (<see cref="ExternalDataLocation"/>).
/// </summary>
public static class ExternalData
{
    public const string LocationKey = "location";
    public const string OffsetKey = "offset";
    public const string LengthKey = "length";

    /// <summary>Reads every external tensor of <paramref name="model"/> into its raw_data.</summary>
    /// <exception cref="CompressionException">
    /// MC1002 malformed entries or dims; MC1004 the file is missing or shorter than the tensor;
    /// MC1006 a location outside the model's folder. Each is raised before the tensor's bytes are read or allocated.
    /// </exception>
    public static void Inline(ModelProto model, string modelPath)
    {
        foreach (var tensor in OnnxWalk.Tensors(model).Where(IsExternal))
        {
            tensor.RawData = Load(tensor, modelPath);
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

    /// <summary>
    /// The number of bytes to read: the given length, else what the dims need (as ONNX Runtime reads
    /// it), else the rest of the file; checked against the file and the dims so that an absurd
    /// declaration is refused before anything is allocated.
    /// </summary>
    private static long CheckedLength(TensorProto tensor, ExternalDataReference reference, string file, string modelPath)
    {
        if (TensorStorage.ElementCount(tensor) is null)
            throw new CompressionException(DiagnosticCode.ModelInvalid, modelPath,
                $"'{modelPath}' is not a valid ONNX model: tensor '{tensor.Name}' has the impossible dims {TensorStorage.Describe(tensor)}. The model is corrupt; re-export it.");
        var declared = TensorStorage.RawBytes(tensor);
        var fileLength = new FileInfo(file).Length;
        var length = reference.Length ?? declared ?? Math.Max(0, fileLength - reference.Offset);
        if (reference.Offset > fileLength || length > fileLength - reference.Offset)
            throw new CompressionException(DiagnosticCode.ExternalDataMissing, modelPath,
                $"Tensor '{tensor.Name}' ({TensorStorage.Describe(tensor)}) of '{modelPath}' needs {length} bytes from offset {reference.Offset} of '{reference.Location}', but the file holds {fileLength} bytes. " +
                "The external-data file is truncated or belongs to another model: copy the model's own data file beside it, or re-export the model.");
        if (reference.Length is { } given && declared is { } needed && given != needed)
            throw new CompressionException(DiagnosticCode.ModelInvalid, modelPath,
                $"'{modelPath}' is not a valid ONNX model: tensor '{tensor.Name}' ({TensorStorage.Describe(tensor)}) needs {needed} bytes, but its external data in '{reference.Location}' is {given} bytes long. The model is corrupt; re-export it with its external data.");
        if (length > Array.MaxLength)
            throw new CompressionException(DiagnosticCode.ModelUnsupported, modelPath,
                $"Tensor '{tensor.Name}' ({TensorStorage.Describe(tensor)}) of '{modelPath}' holds {length} bytes; this tool loads tensors of at most {Array.MaxLength} bytes (2 GB). Split the tensor, or compress the model with another tool.");
        return length;
    }

    /// <summary>One external tensor's bytes, read only once its location, range and dims have been checked.</summary>
    private static ByteString Load(TensorProto tensor, string modelPath)
    {
        var reference = ExternalDataReference.Of(tensor, modelPath);
        var file = ExternalDataLocation.Resolve(modelPath, tensor.Name, reference.Location);
        var length = CheckedLength(tensor, reference, file, modelPath);
        if (length == 0) return ByteString.Empty; // nothing to open (and opening a FIFO would block)
        var bytes = new byte[length];
        try
        {
            using var stream = File.OpenRead(file);
            stream.Seek(reference.Offset, SeekOrigin.Begin);
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCode.ExternalDataMissing, modelPath,
                $"Tensor '{tensor.Name}' of '{modelPath}' stores its data in '{reference.Location}', which cannot be read ({e.Message}). Check that the external-data file beside the model is readable.", e);
        }
        return UnsafeByteOperations.UnsafeWrap(bytes); // the array is ours alone: no second copy
    }
}
