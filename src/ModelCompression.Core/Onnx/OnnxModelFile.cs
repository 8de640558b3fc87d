using Google.Protobuf;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.IO;

namespace ModelCompression.Core.Onnx;

/// <summary>Reads and writes .onnx files. Loaded models hold all their data in memory; writes are atomic.</summary>
public static class OnnxModelFile
{
    /// <summary>Reads a model, inlines its external data and checks its structure.</summary>
    /// <exception cref="CompressionException">MC1001 missing, MC1002 corrupt, truncated, unreadable or over protobuf's 2 GB, MC1004 external data missing.</exception>
    public static ModelProto Load(string path)
    {
        if (!File.Exists(path))
            throw new CompressionException(DiagnosticCode.ModelNotFound, path,
                $"The model file '{path}' does not exist. Check the Include path of the CompressedModel item.");
        var model = Parse(ReadBytes(path), path);
        ExternalData.Inline(model, path);
        return model;
    }

    // A protobuf message cannot exceed 2 GB; larger models keep their weights in external-data files.
    private static byte[] ReadBytes(string path)
    {
        try
        {
            var length = new FileInfo(path).Length;
            if (length > int.MaxValue)
                throw new CompressionException(DiagnosticCode.ModelInvalid, path,
                    $"'{path}' is {length} bytes, more than the 2 GB an ONNX (protobuf) file can hold, so it is not a valid model. Save large models with their weights as external data (onnx.save_model(model, path, save_as_external_data=True)).");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCode.ModelInvalid, path,
                $"The model file '{path}' cannot be read ({e.Message}). Check that it is a readable file.", e);
        }
    }

    /// <summary>Parses model bytes and checks their structure; <paramref name="displayPath"/> names the file in errors.</summary>
    public static ModelProto Parse(byte[] bytes, string displayPath)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new CompressionException(DiagnosticCode.ModelInvalid, displayPath,
                $"'{displayPath}' is not a valid ONNX model: its protobuf cannot be read ({e.Message}). The file is truncated, corrupt or not an .onnx file; export the model again.", e);
        }
        OnnxStructure.Validate(model, displayPath);
        return model;
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> in one piece, atomically.</summary>
    public static void Save(ModelProto model, string path) => AtomicFile.Write(path, model.WriteTo);

    /// <summary>
    /// Writes <paramref name="model"/> with every initializer of at least <paramref name="threshold"/>
    /// bytes moved into <paramref name="dataFileName"/> beside it (needed past protobuf's 2 GB limit).
    /// Both files are written atomically, the data first; <paramref name="model"/> is not changed.
    /// </summary>
    public static void SaveWithExternalData(ModelProto model, string path, string dataFileName, long threshold = 1024)
    {
        var copy = model.Clone();
        var dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, dataFileName);
        AtomicFile.Write(dataPath, stream => ExternalData.Externalize(copy, dataFileName, stream, threshold));
        AtomicFile.Write(path, copy.WriteTo);
    }

    /// <summary>The serialized size of <paramref name="model"/> in bytes: the size of the file it would make.</summary>
    public static long SizeOf(ModelProto model) => model.CalculateSize();

    /// <summary>The SHA-256 of <paramref name="model"/>'s serialized bytes, in lower-case hex: equal models hash alike.</summary>
    public static string HashOf(ModelProto model) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(model.ToByteArray()));
}
