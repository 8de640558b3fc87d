using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Tests.Planning;

public class QuantityTests
{
    [Theory]
    [InlineData("1%", 0.01)]
    [InlineData("0.5%", 0.005)]
    [InlineData(" 0.001 % ", 0.00001)]
    public void Percentages_are_fractions(string text, double expected) =>
        Assert.Equal(expected, Quantity.ParsePercent(text, "MaxAccuracyDrop", "m.onnx"), 12);

    [Theory]
    [InlineData("400KB", 409600)]
    [InlineData("1.5MB", 1572864)]
    [InlineData("123456", 123456)]
    [InlineData("2 mib", 2097152)]
    public void Sizes_are_bytes(string text, long expected) =>
        Assert.Equal(expected, Quantity.ParseSize(text, "MaxSize", "m.onnx"));

    [Theory]
    [InlineData("2ms", 2.0)]
    [InlineData("500us", 0.5)]
    [InlineData("1.5s", 1500.0)]
    [InlineData("5m", 300000.0)]
    [InlineData("00:00:30", 30000.0)]
    public void Durations_parse(string text, double milliseconds) =>
        Assert.Equal(milliseconds, Quantity.ParseDuration(text, "MaxLatency", "m.onnx").TotalMilliseconds, 6);

    [Theory]
    [InlineData(120.0, "120 µs")]
    [InlineData(120.4, "120.4 µs")] // against a 120 µs budget a message must not say "takes 120 µs, allows 120 µs"
    [InlineData(2500.0, "2.5 ms")]
    public void Durations_print_with_the_precision_a_latency_budget_needs(double microseconds, string expected) =>
        Assert.Equal(expected, Quantity.FormatDuration(TimeSpan.FromMicroseconds(microseconds)));

    [Theory]
    [InlineData("1")]
    [InlineData("abc%")]
    [InlineData("150%")]
    public void Bad_percentages_are_MC3001_naming_the_setting(string text)
    {
        var e = Assert.Throws<CompressionException>(() => Quantity.ParsePercent(text, "MaxAccuracyDrop", "m.onnx"));
        Assert.Equal(DiagnosticCode.InvalidSetting, e.Code);
        Assert.Contains("MaxAccuracyDrop", e.Message);
        Assert.Equal("m.onnx", e.File);
    }

    [Fact]
    public void Unknown_techniques_and_metrics_are_MC3001()
    {
        Assert.Equal(DiagnosticCode.InvalidSetting, Assert.Throws<CompressionException>(() => Techniques.Parse("int8;int3", "m.onnx")).Code);
        Assert.Equal(DiagnosticCode.InvalidSetting, Assert.Throws<CompressionException>(() => MetricKinds.Parse("f1", "m.onnx")).Code);
        Assert.Equal(Technique.Fusion | Technique.Int8, Techniques.Parse("fusion; INT8", null));
    }
}
