using System.Globalization;
using System.Text.RegularExpressions;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Planning;

/// <summary>
/// Parses the human-written values of item metadata and properties: percentages (<c>1%</c>),
/// sizes (<c>400KB</c>, <c>1.5MB</c>, bytes; 1 KB = 1024 bytes) and durations (<c>2ms</c>, <c>5m</c>).
/// A value that does not parse is an MC3001 error naming the setting and the accepted forms.
/// </summary>
public static partial class Quantity
{
    /// <summary>A percentage as a fraction: "1%" → 0.01.</summary>
    public static double ParsePercent(string value, string setting, string? file)
    {
        var match = PercentPattern().Match(value.Trim());
        if (!match.Success)
            throw Invalid(setting, value, file, "a percentage such as '1%' or '0.5%'");
        var percent = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        if (percent > 100) throw Invalid(setting, value, file, "a percentage between 0% and 100%");
        return percent / 100.0;
    }

    /// <summary>A size in bytes: "400KB", "1.5MB", "2GB", "123456" (KB, KiB = 1024 bytes).</summary>
    public static long ParseSize(string value, string setting, string? file)
    {
        var match = SizePattern().Match(value.Trim());
        if (!match.Success)
            throw Invalid(setting, value, file, "a size such as '400KB', '1.5MB' or a number of bytes");
        var number = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var factor = match.Groups[2].Value.ToUpperInvariant() switch
        {
            "" or "B" => 1L,
            "KB" or "KIB" => 1L << 10,
            "MB" or "MIB" => 1L << 20,
            _ => 1L << 30,
        };
        return (long)Math.Round(number * factor);
    }

    /// <summary>A duration: "2ms", "500us", "1.5s", "5m", "1h", or a TimeSpan ("00:05:00").</summary>
    public static TimeSpan ParseDuration(string value, string setting, string? file)
    {
        var text = value.Trim();
        var match = DurationPattern().Match(text);
        if (match.Success)
        {
            var number = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            return match.Groups[2].Value.ToLowerInvariant() switch
            {
                "us" or "µs" => TimeSpan.FromTicks((long)Math.Round(number * 10)),
                "ms" => TimeSpan.FromTicks((long)Math.Round(number * TimeSpan.TicksPerMillisecond)),
                "s" => TimeSpan.FromTicks((long)Math.Round(number * TimeSpan.TicksPerSecond)),
                "m" or "min" => TimeSpan.FromTicks((long)Math.Round(number * TimeSpan.TicksPerMinute)),
                _ => TimeSpan.FromTicks((long)Math.Round(number * TimeSpan.TicksPerHour)),
            };
        }
        if (text.Contains(':') && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero)
            return span;
        throw Invalid(setting, value, file, "a duration such as '2ms', '500us', '30s' or '5m'");
    }

    // Logs and reports are build output: the same figures under every culture.
    public static string FormatSize(long bytes) => bytes switch
    {
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.##} MB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 10):0.#} KB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };

    public static string FormatDuration(TimeSpan duration) => duration.TotalMilliseconds switch
    {
        < 1 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMicroseconds:0.#} µs"),
        < 1000 => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalMilliseconds:0.###} ms"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{duration.TotalSeconds:0.##} s"),
    };

    private static CompressionException Invalid(string setting, string value, string? file, string expected) =>
        new(DiagnosticCode.InvalidSetting, file, $"{setting}=\"{value}\" is not valid: write {expected}.");

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*%$")]
    private static partial Regex PercentPattern();

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$", RegexOptions.IgnoreCase)]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)\s*(us|µs|ms|s|m|min|h)$", RegexOptions.IgnoreCase)]
    private static partial Regex DurationPattern();
}
