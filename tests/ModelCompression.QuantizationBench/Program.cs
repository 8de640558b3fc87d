using System.Diagnostics;
using ModelCompression.QuantizationBench;

// dotnet run -c Release --project tests/ModelCompression.QuantizationBench -- [table|ranges|dynamic-forms|conv-integer|rounding] [--models a,b] [--shared DIR]
var mode = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "table";
var models = Option("--models")?.Split(',') ?? ["digits-mlp", "fashion-cnn", "ppocr-cls"];
var shared = Option("--shared") ?? SharedModels.Find();
var watch = Stopwatch.StartNew();
switch (mode)
{
    case "table":
        foreach (var model in models) QuantizationTable.Print(Path.Combine(Require(shared), model));
        break;
    case "dynamic-forms":
        foreach (var model in models.Where(m => m != "ppocr-cls")) DynamicForms.Print(Path.Combine(Require(shared), model));
        break;
    case "ranges":
        foreach (var model in models) CalibrationRanges.Print(Path.Combine(Require(shared), model));
        break;
    case "conv-integer":
        ConvInteger.Print();
        break;
    case "rounding":
        RoundingTable.PrintSynthetic();
        foreach (var model in models) RoundingTable.PrintModelWithActivations(Path.Combine(Require(shared), model));
        break;
    default:
        Console.Error.WriteLine($"Unknown mode '{mode}': use table, ranges, dynamic-forms, conv-integer or rounding.");
        return 2;
}
Console.WriteLine($"({watch.Elapsed.TotalSeconds:0} s)");
return 0;

string? Option(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string Require(string? shared) =>
    shared ?? throw new DirectoryNotFoundException("No shared/models folder found above the current directory; pass --shared DIR.");
