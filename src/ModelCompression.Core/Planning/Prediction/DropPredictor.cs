namespace ModelCompression.Core.Planning.Prediction;

/// <summary>
/// Maps an option's relative output error on its layer to the sensitivity of the whole model: drop ≈ c · error, with
/// one coefficient per layer and kind of option: factored or not (bias correction, always applied to factors, recovers
/// much of their error), rounded to nearest or data-aware (whose error is minimised on the calibration inputs, so it
/// generalises less than its prediction says). Each coefficient comes from one option measured alone; the others take
/// the median of their kind. Summed over a combination, the predictions are what the knapsack spends the budget on; measured
/// combinations correct them (see the planner's blame).
/// </summary>
public sealed class DropPredictor(LayerErrors errors, double resolution)
{
    private readonly Dictionary<string, double> _coefficients = new(StringComparer.Ordinal);

    /// <summary>How many layers have a measured coefficient.</summary>
    public int Calibrated => _coefficients.Count;

    /// <summary>
    /// Records <paramref name="setting"/> of <paramref name="node"/> measured alone. A sensitivity of zero is below what
    /// the search split can show: it counts as half of one sample, an upper bound rather than a free pass.
    /// </summary>
    public void Calibrate(string node, LayerSetting setting, double sensitivity)
    {
        if (errors.Of(node, setting) is not { } error || error <= 0) return;
        _coefficients[Key(node, setting)] = Math.Max(sensitivity, resolution / 2) / error;
    }

    /// <summary>The options of a layer worth measuring alone: one per kind (<see cref="CalibrationOption"/>).</summary>
    public IEnumerable<LayerSetting> CalibrationOptions(LayerSpace layer, double visible) =>
        layer.Settings.GroupBy(Kind).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(kind => CalibrationOption(layer with { Settings = kind.ToList() }, visible))
            .OfType<LayerSetting>();

    /// <summary>The option of a layer worth measuring alone: the largest error below <paramref name="visible"/>, else the smallest above it.</summary>
    public LayerSetting? CalibrationOption(LayerSpace layer, double visible)
    {
        var predicted = layer.Settings.Where(s => !s.AssumedLossless && errors.Of(layer.Node, s) > 0).Select(s => (Setting: s, Error: errors.Of(layer.Node, s)!.Value)).ToList();
        if (predicted.Count == 0) return null;
        var below = predicted.Where(p => p.Error <= visible).ToList();
        return below.Count > 0
            ? below.OrderByDescending(p => p.Error).ThenBy(p => p.Setting.ToString(), StringComparer.Ordinal).First().Setting
            : predicted.OrderBy(p => p.Error).ThenBy(p => p.Setting.ToString(), StringComparer.Ordinal).First().Setting;
    }

    /// <summary>The predicted sensitivity of the option alone; null when its error was not predicted.</summary>
    public double? Predict(string node, LayerSetting setting)
    {
        if (setting.AssumedLossless) return 0;
        if (errors.Of(node, setting) is not { } error) return null;
        return error * (_coefficients.TryGetValue(Key(node, setting), out var c) ? c : MedianCoefficient(Kind(setting)));
    }

    private static string Kind(LayerSetting setting) => (setting.Rank > 0 ? "factored" : "stored") + "|" + setting.Rounding;

    private static string Key(string node, LayerSetting setting) => node + "\0" + Kind(setting);

    // The median over the layers calibrated for this kind, else over all.
    private double MedianCoefficient(string kind)
    {
        var same = _coefficients.Where(c => c.Key.EndsWith("\0" + kind, StringComparison.Ordinal)).Select(c => c.Value).ToList();
        var values = (same.Count > 0 ? same : _coefficients.Values.ToList()).Order().ToList();
        return values.Count == 0 ? 1 : values[values.Count / 2];
    }
}
