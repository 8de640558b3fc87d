using System.Globalization;
using System.Security;
using System.Text;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Reporting;

/// <summary>
/// The report's chart: every candidate's score against its size, as a self-contained SVG (no
/// scripts, fonts or other files), the original marked, the chosen point highlighted, and the
/// budget lines: MaxSize (vertical) and the lowest allowed score, original − MaxAccuracyDrop
/// (horizontal). Sizes are in KB, on a log scale when they span more than a factor of 10.
/// The same report gives the same bytes.
/// </summary>
public static class CandidateChart
{
    private const double Width = 760, Height = 480;
    private const double Left = 76, Right = Width - 28, Top = 66, Bottom = Height - 58;
    private const string Within = "#3b75c4", Over = "#8c8c8c", ChosenFill = "#1a9850", ChosenStroke = "#0b5d2a",
        Budget = "#d62728", Grid = "#e6e6e6", Ink = "#222222";

    /// <summary>Sizes spanning more than this factor get a log scale.</summary>
    public const double LogScaleRange = 10;

    public static string ToSvg(CompressionReport report)
    {
        var originalScore = report.OriginalSearchScore ?? report.OriginalScore;
        var minScore = originalScore - report.Budgets.MaxAccuracyDrop;
        var sizes = report.Candidates.Select(c => Kb(c.SizeBytes)).Append(Kb(report.OriginalSizeBytes)).ToList();
        if (report.Budgets.MaxSizeBytes is { } maxSize) sizes.Add(Kb(maxSize));
        var x = Axis.ForSizes(sizes.Min(), sizes.Max(), Left, Right);
        var scores = report.Candidates.Select(c => c.Score).Append(originalScore).Append(minScore).ToList();
        var y = Axis.ForScores(scores.Min(), scores.Max(), Bottom, Top);
        var (ox, oy) = (x.Map(Kb(report.OriginalSizeBytes)), y.Map(originalScore));
        var labels = new Labels(report.Candidates.Select(c => (x.Map(Kb(c.SizeBytes)), y.Map(c.Score))).Append((ox, oy)));

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{N(Width)}\" height=\"{N(Height)}\" viewBox=\"0 0 {N(Width)} {N(Height)}\" ")
           .Append("font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n");
        svg.Append($"<title>{Escape(Path.GetFileName(report.Model))}: {Escape(report.Metric)} against size for {report.Candidates.Count} candidates</title>\n");
        svg.Append($"<rect width=\"{N(Width)}\" height=\"{N(Height)}\" fill=\"white\"/>\n");
        Text(svg, Left, 24, $"{Path.GetFileName(report.Model)}: {report.Metric} against size, {report.Candidates.Count} candidates", "start", "font-size=\"15\" font-weight=\"bold\"");

        DrawGrid(svg, x, y, report);
        ShadeWithinBudgets(svg, x, y, report, minScore);
        var highlighted = report.Chosen ?? report.BestFailing;
        foreach (var c in report.Candidates.Where(c => !Same(c, highlighted)))
        {
            var (cx, cy) = (x.Map(Kb(c.SizeBytes)), y.Map(c.Score));
            var fill = c.WithinBudgets ? $"fill=\"{Within}\"" : $"fill=\"white\" stroke=\"{Over}\" stroke-width=\"1.5\"";
            svg.Append($"<circle cx=\"{N(cx)}\" cy=\"{N(cy)}\" r=\"4.5\" {fill}><title>{Escape(PointTitle(c, report.Metric))}</title></circle>\n");
        }
        svg.Append($"<path d=\"M{N(ox)} {N(oy - 7)} L{N(ox + 7)} {N(oy)} L{N(ox)} {N(oy + 7)} L{N(ox - 7)} {N(oy)} Z\" fill=\"{Ink}\">")
           .Append($"<title>original: {Quantity.FormatSize(report.OriginalSizeBytes)}, {Escape(report.Metric)} {ReportWriter.Score(originalScore)}</title></path>\n");
        if (highlighted is not null)
        {
            var (hx, hy) = (x.Map(Kb(highlighted.SizeBytes)), y.Map(highlighted.Score));
            var style = report.Chosen is not null
                ? $"fill=\"{ChosenFill}\" stroke=\"{ChosenStroke}\" stroke-width=\"2\""
                : $"fill=\"white\" stroke=\"{Budget}\" stroke-width=\"2.5\"";
            svg.Append($"<circle cx=\"{N(hx)}\" cy=\"{N(hy)}\" r=\"8\" {style}><title>{Escape(PointTitle(highlighted, report.Metric))}</title></circle>\n");
        }
        DrawBudgets(svg, x, y, report, minScore, labels);

        // Labels last, so they sit on top; the most important is placed first and gets the free spot.
        if (highlighted is not null)
            labels.BesidePoint(x.Map(Kb(highlighted.SizeBytes)), y.Map(highlighted.Score), report.Chosen is not null ? $"chosen: {highlighted.Label}" : $"closest: {highlighted.Label}", bold: true);
        labels.BesidePoint(ox, oy, "original", bold: false);
        var minY = y.Map(minScore);
        labels.Place($"lowest allowed {report.Metric} {ReportWriter.Score(minScore)} (original − {(100 * report.Budgets.MaxAccuracyDrop).ToString("0.##", CultureInfo.InvariantCulture)} pt)",
            Budget, false, (Right - 6, minY - 6, true), (Right - 6, minY + 16, true), (Left + 6, minY - 6, false), (Left + 6, minY + 16, false));
        if (report.Budgets.MaxSizeBytes is { } max)
        {
            var px = x.Map(Kb(max));
            labels.Place($"MaxSize {Quantity.FormatSize(max)}", Budget, false,
                (px + 6, Top + 16, false), (px - 6, Top + 16, true), (px + 6, Bottom - 8, false), (px - 6, Bottom - 8, true));
        }
        svg.Append(labels.Svg);
        DrawLegend(svg, report);
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void DrawGrid(StringBuilder svg, Axis x, Axis y, CompressionReport report)
    {
        foreach (var tick in x.Ticks)
        {
            var px = x.Map(tick);
            svg.Append($"<line x1=\"{N(px)}\" y1=\"{N(Top)}\" x2=\"{N(px)}\" y2=\"{N(Bottom)}\" stroke=\"{Grid}\"/>\n");
            Text(svg, px, Bottom + 18, x.Label(tick), "middle");
        }
        foreach (var tick in y.Ticks)
        {
            var py = y.Map(tick);
            svg.Append($"<line x1=\"{N(Left)}\" y1=\"{N(py)}\" x2=\"{N(Right)}\" y2=\"{N(py)}\" stroke=\"{Grid}\"/>\n");
            Text(svg, Left - 8, py + 4, y.Label(tick), "end");
        }
        svg.Append($"<rect x=\"{N(Left)}\" y=\"{N(Top)}\" width=\"{N(Right - Left)}\" height=\"{N(Bottom - Top)}\" fill=\"none\" stroke=\"{Ink}\"/>\n");
        Text(svg, (Left + Right) / 2, Height - 16, x.IsLog ? "size (KB, log scale)" : "size (KB)", "middle");
        var samples = report.SearchSamples is { } n ? $"{n} search samples" : $"{report.ValidationSamples} validation samples";
        svg.Append($"<text x=\"18\" y=\"{N((Top + Bottom) / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {N((Top + Bottom) / 2)})\" fill=\"{Ink}\">")
           .Append($"{Escape(report.Metric)} on {samples}</text>\n");
    }

    // The allowed region: left of MaxSize, above the lowest allowed score.
    private static void ShadeWithinBudgets(StringBuilder svg, Axis x, Axis y, CompressionReport report, double minScore)
    {
        var right = report.Budgets.MaxSizeBytes is { } max ? Math.Clamp(x.Map(Kb(max)), Left, Right) : Right;
        var bottom = Math.Clamp(y.Map(minScore), Top, Bottom);
        svg.Append($"<rect x=\"{N(Left)}\" y=\"{N(Top)}\" width=\"{N(right - Left)}\" height=\"{N(bottom - Top)}\" fill=\"{ChosenFill}\" fill-opacity=\"0.06\"/>\n");
    }

    private static void DrawBudgets(StringBuilder svg, Axis x, Axis y, CompressionReport report, double minScore, Labels labels)
    {
        const string dash = "stroke-dasharray=\"6 4\" stroke-width=\"1.5\"";
        var py = y.Map(minScore);
        svg.Append($"<line x1=\"{N(Left)}\" y1=\"{N(py)}\" x2=\"{N(Right)}\" y2=\"{N(py)}\" stroke=\"{Budget}\" {dash}/>\n");
        labels.Avoid(Left, py - 1, Right, py + 1);
        if (report.Budgets.MaxSizeBytes is not { } maxSize) return;
        var px = x.Map(Kb(maxSize));
        svg.Append($"<line x1=\"{N(px)}\" y1=\"{N(Top)}\" x2=\"{N(px)}\" y2=\"{N(Bottom)}\" stroke=\"{Budget}\" {dash}/>\n");
        labels.Avoid(px - 1, Top, px + 1, Bottom);
    }

    private static void DrawLegend(StringBuilder svg, CompressionReport report)
    {
        var x = Left;
        const double y = 46;
        void Item(string symbol, string text)
        {
            svg.Append(symbol.Replace("{x}", N(x + 6)).Replace("{y}", N(y - 4)));
            Text(svg, x + 16, y, text, "start");
            x += 26 + 6.6 * text.Length;
        }
        Item($"<path d=\"M{{x}} {N(y - 10)} l6 6 l-6 6 l-6 -6 Z\" fill=\"{Ink}\"/>\n", "original");
        if (report.Chosen is not null) Item($"<circle cx=\"{{x}}\" cy=\"{{y}}\" r=\"6\" fill=\"{ChosenFill}\" stroke=\"{ChosenStroke}\" stroke-width=\"2\"/>\n", "chosen");
        else if (report.BestFailing is not null) Item($"<circle cx=\"{{x}}\" cy=\"{{y}}\" r=\"6\" fill=\"white\" stroke=\"{Budget}\" stroke-width=\"2.5\"/>\n", "closest (budgets not met)");
        var others = report.Candidates.Where(c => !Same(c, report.Chosen ?? report.BestFailing)).ToList();
        if (others.Any(c => c.WithinBudgets)) Item($"<circle cx=\"{{x}}\" cy=\"{{y}}\" r=\"4.5\" fill=\"{Within}\"/>\n", "within budgets");
        if (others.Any(c => !c.WithinBudgets)) Item($"<circle cx=\"{{x}}\" cy=\"{{y}}\" r=\"4.5\" fill=\"white\" stroke=\"{Over}\" stroke-width=\"1.5\"/>\n", "over a budget");
        svg.Append($"<line x1=\"{N(x)}\" y1=\"{N(y - 4)}\" x2=\"{N(x + 14)}\" y2=\"{N(y - 4)}\" stroke=\"{Budget}\" stroke-dasharray=\"4 3\" stroke-width=\"1.5\"/>\n");
        Text(svg, x + 20, y, "budget", "start");
    }

    private static void Text(StringBuilder svg, double x, double y, string text, string anchor, string style = "", string color = Ink) =>
        svg.Append($"<text x=\"{N(x)}\" y=\"{N(y)}\" text-anchor=\"{anchor}\" fill=\"{color}\"{(style.Length > 0 ? " " + style : "")}>{Escape(text)}</text>\n");

    private static string PointTitle(CandidateSummary c, string metric) =>
        $"{c.Label}: {Quantity.FormatSize(c.SizeBytes)}, {metric} {ReportWriter.Score(c.Score)}" +
        (c.LatencyRatio is { } r ? $", latency {r.ToString("0.00", CultureInfo.InvariantCulture)}×" : "");

    private static bool Same(CandidateSummary c, CandidateSummary? highlighted) =>
        highlighted is not null && c.Label == highlighted.Label && c.Plan == highlighted.Plan && c.SizeBytes == highlighted.SizeBytes;

    private static double Kb(long bytes) => bytes / 1024.0;

    private static string N(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);

    // A '"' in a label must not end an attribute; SecurityElement.Escape covers & < > " '.
    private static string Escape(string text) => SecurityElement.Escape(text);

    /// <summary>
    /// Places text labels where they hide the fewest points, lines and other labels, inside the plot:
    /// each label tries a few spots in order and takes the first of the least covered.
    /// </summary>
    private sealed class Labels
    {
        private readonly List<(double X0, double Y0, double X1, double Y1)> _taken;
        private readonly StringBuilder _svg = new();

        public Labels(IEnumerable<(double X, double Y)> points) => _taken = points.Select(p => (p.X - 5, p.Y - 5, p.X + 5, p.Y + 5)).ToList();

        public string Svg => _svg.ToString();

        public void Avoid(double x0, double y0, double x1, double y1) => _taken.Add((x0, y0, x1, y1));

        public void BesidePoint(double px, double py, string text, bool bold) =>
            Place(text, Ink, bold, (px + 12, py - 8, false), (px + 12, py + 18, false), (px - 12, py - 8, true), (px - 12, py + 18, true));

        /// <param name="places">Baseline positions; End: the text ends there (anchored right).</param>
        public void Place(string text, string color, bool bold, params (double X, double Y, bool End)[] places)
        {
            var width = (bold ? 7.2 : 6.4) * text.Length;
            (double X0, double Y0, double X1, double Y1) Box((double X, double Y, bool End) p) =>
                (p.End ? p.X - width : p.X, p.Y - 12, p.End ? p.X : p.X + width, p.Y + 3);
            var best = places.MinBy(p =>
            {
                var box = Box(p);
                var outside = box.X0 < Left || box.X1 > Right || box.Y0 < Top || box.Y1 > Bottom;
                return _taken.Count(t => t.X0 < box.X1 && box.X0 < t.X1 && t.Y0 < box.Y1 && box.Y0 < t.Y1) + (outside ? 1000 : 0);
            });
            _taken.Add(Box(best));
            var style = $"{(bold ? "font-weight=\"bold\" " : "")}stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\"";
            Text(_svg, best.X, best.Y, text, best.End ? "end" : "start", style, color);
        }
    }

    /// <summary>One axis: a domain mapped onto pixels, with round ticks.</summary>
    private sealed class Axis
    {
        private readonly double _lo, _hi, _from, _to;
        private readonly int _decimals;

        private Axis(double lo, double hi, double from, double to, bool isLog, IReadOnlyList<double> ticks, int decimals)
        {
            (_lo, _hi, _from, _to, IsLog, Ticks, _decimals) = (lo, hi, from, to, isLog, ticks, decimals);
        }

        public bool IsLog { get; }

        public IReadOnlyList<double> Ticks { get; }

        /// <summary>Linear from 0 (the eye reads ratios of size), or log when sizes span more than <see cref="LogScaleRange"/>.</summary>
        public static Axis ForSizes(double min, double max, double from, double to)
        {
            min = Math.Max(min, 1e-3);
            if (max / min <= LogScaleRange)
            {
                var top = max * 1.06;
                var step = NiceStep(top / 6);
                return new Axis(0, top, from, to, false, TicksIn(0, top, step), Decimals(step));
            }
            var lo = min / 1.3;
            var hi = max * 1.3;
            var ticks = new List<double>();
            for (var decade = Math.Floor(Math.Log10(lo)); decade <= Math.Ceiling(Math.Log10(hi)); decade++)
                foreach (var m in new[] { 1.0, 2.0, 5.0 })
                {
                    var t = m * Math.Pow(10, decade);
                    if (t >= lo && t <= hi) ticks.Add(t);
                }
            if (ticks.Count > 9) ticks = ticks.Where(t => Math.Abs(Math.Log10(t) - Math.Round(Math.Log10(t))) < 1e-9).ToList();
            return new Axis(Math.Log10(lo), Math.Log10(hi), from, to, true, ticks, 0);
        }

        /// <summary>Padded around the scores, kept within [0, 1] where the scores allow.</summary>
        public static Axis ForScores(double min, double max, double from, double to)
        {
            var pad = Math.Max((max - min) * 0.08, 0.004);
            var lo = min - pad;
            var hi = max + pad;
            if (lo < 0 && min >= 0) lo = 0;
            if (hi > 1 && max <= 1) hi = Math.Max(1, max + pad / 4);
            var step = NiceStep((hi - lo) / 6);
            return new Axis(lo, hi, from, to, false, TicksIn(lo, hi, step), Decimals(step));
        }

        public double Map(double value)
        {
            var v = IsLog ? Math.Log10(value) : value;
            return _from + (v - _lo) / (_hi - _lo) * (_to - _from);
        }

        public string Label(double tick) => tick.ToString(IsLog ? "0.###" : "F" + _decimals, CultureInfo.InvariantCulture);

        private static double NiceStep(double raw)
        {
            var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
            var normalized = raw / magnitude;
            return (normalized < 1.5 ? 1 : normalized < 3 ? 2 : normalized < 7 ? 5 : 10) * magnitude;
        }

        private static List<double> TicksIn(double lo, double hi, double step)
        {
            var ticks = new List<double>();
            for (var i = Math.Ceiling(lo / step - 1e-9); i * step <= hi + 1e-9; i++) ticks.Add(Math.Round(i * step, 10) + 0.0); // + 0.0 turns -0 into 0
            return ticks;
        }

        private static int Decimals(double step) => Math.Max(0, (int)-Math.Floor(Math.Log10(step) + 1e-9));
    }
}
