using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.LowRank;

namespace ModelCompression.Core.Planning.Prediction;

/// <summary>
/// Every option's relative output error on its layer (<see cref="OutputError"/>), and the bytes it is estimated to
/// leave: what the planner predicts from, without running the model.
/// </summary>
public sealed class LayerErrors
{
    private readonly Dictionary<(string Node, LayerSetting Setting), double> _errors;
    private readonly Dictionary<string, (int Inputs, int Outputs)> _shapes;

    public LayerErrors(IEnumerable<KeyValuePair<(string Node, LayerSetting Setting), double>> errors, IReadOnlyDictionary<string, (int Inputs, int Outputs)>? shapes = null)
    {
        _errors = errors.ToDictionary(e => e.Key, e => e.Value);
        _shapes = shapes?.ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal) ?? new(StringComparer.Ordinal);
    }

    /// <summary>How many options have a predicted error.</summary>
    public int Count => _errors.Count;

    /// <summary>The option's relative output error; null when it was not predicted.</summary>
    public double? Of(string node, LayerSetting setting) => _errors.TryGetValue((node, setting), out var e) ? e : null;

    /// <summary>
    /// Bytes the layer is estimated to hold with <paramref name="setting"/> minus what it holds now: its weights at the
    /// setting's nominal bits (a factored layer's r·(K + N) of them). Tables and scales are left out: the knapsack
    /// needs the order of the options, and every combination it proposes is measured.
    /// </summary>
    public long EstimatedBytes(LayerSpace layer, LayerSetting setting)
    {
        var weights = (double)layer.Parameters;
        if (setting.Rank > 0 && _shapes.TryGetValue(layer.Node, out var shape))
            weights = Math.Min(weights, (double)setting.Rank * (shape.Inputs + shape.Outputs));
        return (long)Math.Round(weights * setting.NominalBits / 8 - layer.Parameters * 4.0);
    }

    /// <summary>
    /// Predicts every option of every layer of <paramref name="space"/>: O(options · N·K²) with input moments. A layer's
    /// options are predicted side by side, each on its own (the errors do not depend on the thread count), as many at
    /// once as <see cref="ConcurrentOptionBytes"/> allows and at most one per core. Errors are rounded to four
    /// significant digits, so that float rounding of another CPU's vector width never reorders options.
    /// </summary>
    /// <param name="done">Told how many more options are done (from any thread), for progress.</param>
    public static LayerErrors Predict(ModelProto model, CompressionSpace space, ILayerStatistics? statistics, QuantizationKnobs knobs, Action<int>? done = null)
    {
        var weights = LayerWeight.Of(model, space.Layers.Select(l => l.Node).ToHashSet(StringComparer.Ordinal));
        var spectra = new SpectrumCache();
        var errors = new List<KeyValuePair<(string, LayerSetting), double>>();
        foreach (var layer in space.Layers)
        {
            if (!weights.TryGetValue(layer.Node, out var weight))
            {
                done?.Invoke(layer.Settings.Count);
                continue;
            }
            var moments = statistics?.For(layer.Node) is { } m && m.Dimension == weight.Inputs && m.Groups == weight.Groups ? m : null;
            var hessians = moments is null ? null : Enumerable.Range(0, moments.Groups).Select(g => InputHessian.Of(moments, g)).ToList();
            // Factored layers are bias-corrected: their error is weighed on the input covariance (made only for layers with factored options).
            var factored = moments is { Groups: 1 } && layer.Settings.Any(s => s.Rank > 0);
            var covariance = factored ? InputHessian.Centred(moments!) : null;
            var outputError = new OutputError(weight, moments);
            var centredError = factored ? new OutputError(weight, moments!.Centred()) : outputError;
            var predicted = new double[layer.Settings.Count];
            try
            {
                Parallel.For(0, layer.Settings.Count, new ParallelOptions { MaxDegreeOfParallelism = ConcurrentOptions(weight) }, s =>
                {
                    var setting = layer.Settings[s];
                    var approximation = SettingApproximation.Approximate(weight, setting, knobs, spectra, hessians, covariance);
                    predicted[s] = RoundSignificant((setting.Rank > 0 ? centredError : outputError).Relative(approximation));
                    done?.Invoke(1);
                });
            }
            catch (AggregateException e) when (e.InnerExceptions.Count == 1)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]); // as a sequential loop would throw it
            }
            errors.AddRange(layer.Settings.Select((setting, s) => KeyValuePair.Create((layer.Node, setting), predicted[s])));
        }
        return new LayerErrors(errors, weights.ToDictionary(w => w.Key, w => (w.Value.Inputs, w.Value.Outputs), StringComparer.Ordinal));
    }

    /// <summary>Bytes the options of one layer may hold at once while they are predicted side by side.</summary>
    public const long ConcurrentOptionBytes = 1L << 30;

    // An option holds a few copies of the weight while it is approximated (GPTQ's sweep keeps it in double, with its
    // rounded result): about 32 B per weight, so a 16M-weight layer predicts two options at a time, a small layer one per core.
    private static int ConcurrentOptions(LayerWeight weight) =>
        (int)Math.Clamp(ConcurrentOptionBytes / Math.Max(1L, 32L * weight.Rows.Length), 1, Environment.ProcessorCount);

    private static double RoundSignificant(double value) =>
        value <= 0 || !double.IsFinite(value) ? Math.Max(0, value) : Math.Round(value, Math.Clamp(3 - (int)Math.Floor(Math.Log10(value)), 0, 15));
}
