namespace ModelCompression.Core.Distillation;

/// <summary>
/// Where a plan's <c>distilled-weights</c> step finds its weights: those trained in this run (kept in memory until the
/// chosen ones are written beside the lock), else the file beside the lock that the step names.
/// </summary>
public sealed class TrainedWeightsSource(string directory)
{
    private readonly Dictionary<string, TrainedWeights> _trained = new(StringComparer.Ordinal);

    public static TrainedWeightsSource None { get; } = new("");

    /// <summary>The lock's folder: weights files lie beside it.</summary>
    public string Directory => directory;

    public void Add(TrainedWeights weights) => _trained[weights.Sha256] = weights;

    /// <summary>Trained in this run (to be written beside the lock when chosen); null otherwise.</summary>
    public TrainedWeights? Trained(string sha256) => _trained.GetValueOrDefault(sha256);

    /// <exception cref="ArgumentException">The file is missing, not the one the plan names, or not a file this tool wrote.</exception>
    public TrainedWeights Get(string file, string sha256)
    {
        if (_trained.TryGetValue(sha256, out var weights)) return weights;
        if (file != Path.GetFileName(file) || directory.Length == 0)
            throw new ArgumentException($"the trained weights file '{file}' must be a file name beside the plan lock");
        try
        {
            return TrainedWeights.Read(Path.Combine(directory, file), sha256)
                   ?? throw new ArgumentException($"the trained weights file '{file}' is missing beside the plan lock, or its content is not the one locked (sha256 {sha256})");
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException(e.Message, e);
        }
    }
}
