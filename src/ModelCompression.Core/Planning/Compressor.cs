using ModelCompression.Core.IO;
using ModelCompression.Core.Onnx;
using ModelCompression.Signatures;

namespace ModelCompression.Core.Planning;

/// <summary>Compresses one model: load, plan, apply, measure, then write the model and its sidecar.</summary>
public sealed class Compressor(ICompressionLog log)
{
    public void Run(CompressionRequest request)
    {
        var model = OnnxModelFile.Load(request.ModelPath);
        OnnxModelFile.Save(model, request.OutputPath);
        log.Info($"{request.ModelPath}: wrote {request.OutputPath} ({Quantity.FormatSize(new FileInfo(request.OutputPath).Length)})");
        if (request.SignaturePath is not null) WriteSignature(request, model);
    }

    private static void WriteSignature(CompressionRequest request, ModelProto model)
    {
        var (inputs, outputs) = SignatureResolver.Resolve(model, sample: null, request.ModelPath);
        var content = new SidecarContent(request.ClassName, request.Namespace, request.ModelRelativePath, inputs, outputs);
        AtomicFile.WriteAllText(request.SignaturePath!, SignatureSidecar.Write(content));
    }
}
