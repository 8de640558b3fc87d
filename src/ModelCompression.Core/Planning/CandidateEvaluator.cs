using System.Security.Cryptography;
using Google.Protobuf;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning;

/// <summary>
/// Applies plans to the source model and measures the results: score on the search split, size and
/// latency against the original (timed interleaved in this process), and on request the score on the
/// full validation data. Measurements are cached by the model's content hash, so plans that produce
/// the same model are measured once.
/// </summary>
public sealed class CandidateEvaluator(
    ModelProto source, string modelFile, PassContext context, Reference search, Reference validation,
    IReadOnlyDictionary<string, NdArray> latencySample, LatencyOptions latencyOptions)
{
    private readonly Dictionary<string, Candidate> _byHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Measurement> _validationByHash = new(StringComparer.Ordinal);

    /// <summary>How many distinct models were run (cache hits excluded).</summary>
    public int Evaluations { get; private set; }

    public ModelProto Apply(Plan plan) => PassCatalog.Apply(source, plan, context);

    /// <summary>Applies <paramref name="plan"/> and measures it on the search split (cached by model hash).</summary>
    public Candidate Measure(string label, Plan plan)
    {
        var model = Apply(plan);
        var hash = HashOf(model);
        if (_byHash.TryGetValue(hash, out var known)) return known with { Label = label, Plan = plan };
        Evaluations++;
        var score = search.Evaluate(model, label);
        var latency = LatencyMeter.Compare(source, modelFile, model, label, latencySample, latencyOptions);
        var candidate = new Candidate(label, plan, model, hash, OnnxModelFile.SizeOf(model),
            new Measurement(score, search.Score, search.Samples.Count), latency);
        _byHash[hash] = candidate;
        return candidate;
    }

    /// <summary>The candidate with its score on the full validation data (cached by model hash).</summary>
    public Candidate Judge(Candidate candidate)
    {
        if (!_validationByHash.TryGetValue(candidate.Hash, out var measurement))
        {
            measurement = new Measurement(validation.Evaluate(candidate.Model, candidate.Label), validation.Score, validation.Samples.Count);
            _validationByHash[candidate.Hash] = measurement;
        }
        return candidate with { Validation = measurement };
    }

    public static string HashOf(ModelProto model) => Convert.ToHexStringLower(SHA256.HashData(model.ToByteArray()));
}
