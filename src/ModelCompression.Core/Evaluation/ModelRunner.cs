using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using Google.Protobuf;

namespace ModelCompression.Core.Evaluation;

/// <summary>
/// An ONNX Runtime session over an in-memory model that runs on <see cref="NdArray"/> values.
/// The simple, copying path for measuring and verifying; the generated wrapper uses I/O binding.
/// Every session of this tool is created here, so a model ONNX Runtime rejects is always MC1003 naming it.
/// </summary>
public sealed class ModelRunner : IDisposable
{
    /// <summary>ONNX Runtime's session setting for the intra-op pool's busy waiting (on by default).</summary>
    private const string AllowSpinning = "session.intra_op.allow_spinning";

    private readonly InferenceSession _session;

    /// <param name="modelName">How errors name the model (its file, or a candidate's description).</param>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load the model.</exception>
    /// <param name="quiet">ONNX Runtime logs nothing, not even a failed run: for probes whose failure the caller expects and handles.</param>
    public ModelRunner(ModelProto model, string modelName, GraphOptimizationLevel optimization = GraphOptimizationLevel.ORT_ENABLE_ALL, int intraOpThreads = 0, bool quiet = false)
    {
        _session = CreateSession(model, modelName, optimization, intraOpThreads, quiet);
    }

    /// <summary>An ORT session over an in-memory model, configured as every measurement in this tool is.</summary>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load the model.</exception>
    internal static InferenceSession CreateSession(ModelProto model, string modelName, GraphOptimizationLevel optimization, int intraOpThreads, bool quiet = false)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = optimization, IntraOpNumThreads = intraOpThreads };
        // Idle pool threads sleep instead of spinning: the spinning cost the worker CPU time that parallel builds can
        // use (measured in README's "Search cost"), and the results are the same.
        options.AddSessionConfigEntry(AllowSpinning, "0");
        // ORT logs warnings (e.g. unused initializers) to stderr; they are not ours to show.
        options.LogSeverityLevel = quiet ? OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL : OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
        try
        {
            return new InferenceSession(model.ToByteArray(), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw OnnxRuntimeFailure.CannotLoad(modelName, e);
        }
    }

    public IReadOnlyList<string> InputNames => _session.InputNames;

    public IReadOnlyList<string> OutputNames => _session.OutputNames;

    public IReadOnlyDictionary<string, NodeMetadata> InputMetadata => _session.InputMetadata;

    public IReadOnlyDictionary<string, NodeMetadata> OutputMetadata => _session.OutputMetadata;

    /// <summary>Runs the model; returns the requested outputs (all by default) by name.</summary>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime fails on these inputs: the caller knows which data they are
    /// and reports it (<see cref="OnnxRuntimeFailure.CannotRun"/>), or falls back (a batch the model does not take).</exception>
    public IReadOnlyDictionary<string, NdArray> Run(IReadOnlyDictionary<string, NdArray> inputs, IReadOnlyList<string>? outputNames = null)
    {
        var names = outputNames ?? OutputNames;
        var inputValues = new List<OrtValue>(inputs.Count);
        try
        {
            foreach (var array in inputs.Values) inputValues.Add(OrtValueConverter.ToOrtValue(array));
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, inputs.Keys.ToArray(), inputValues, names.ToArray());
            var outputs = new Dictionary<string, NdArray>(names.Count, StringComparer.Ordinal);
            for (var i = 0; i < names.Count; i++) outputs[names[i]] = OrtValueConverter.ToNdArray(results[i]);
            return outputs;
        }
        finally
        {
            foreach (var value in inputValues) value.Dispose();
        }
    }

    public void Dispose() => _session.Dispose();
}
