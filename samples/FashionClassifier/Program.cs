// Classifies Fashion-MNIST images with the model that `dotnet build` compressed, through the
// generated FashionCnn wrapper, and compares it with the original model.
using System.Diagnostics;
using FashionClassifier;

var baseDirectory = AppContext.BaseDirectory;
var compressedPath = Path.Combine(baseDirectory, FashionCnn.ModelPath);
var originalPath = Path.Combine(baseDirectory, "original", "fashion-cnn.onnx");
var data = Npz.Read(Path.Combine(baseDirectory, "Models", "fashion-cnn.validation.npz"));
var images = (float[])data["input"];
var labels = (long[])data["labels"];
var imageSize = FashionCnn.InputLength;
var samples = labels.Length;

using var compressed = new FashionCnn();
using var original = new FashionCnn(originalPath);

Console.WriteLine($"Fashion-MNIST, {samples} validation images");
Console.WriteLine();
Console.WriteLine($"{"",-12}{"size",12}{"accuracy",12}{"latency",14}{"allocated/run",16}");
var originalResult = Measure(original, new FileInfo(originalPath).Length);
var compressedResult = Measure(compressed, new FileInfo(compressedPath).Length);
Print("original", originalResult);
Print("compressed", compressedResult);
Console.WriteLine();
Console.WriteLine($"{originalResult.Size / (double)compressedResult.Size:0.0}x smaller, accuracy {100 * (compressedResult.Accuracy - originalResult.Accuracy):+0.00;-0.00} points, " +
                  $"latency x{compressedResult.MedianLatency.TotalMicroseconds / originalResult.MedianLatency.TotalMicroseconds:0.00}");

Result Measure(FashionCnn model, long size)
{
    var correct = 0;
    for (var i = 0; i < samples; i++)
    {
        images.AsSpan(i * imageSize, imageSize).CopyTo(model.Input);
        model.Run();
        if (ArgMax(model.Logits) == labels[i]) correct++;
    }

    // Median latency of one batch-1 run, and the managed bytes each run allocates (0 by design).
    var timings = new double[2000];
    var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
    for (var i = 0; i < timings.Length; i++)
    {
        var start = Stopwatch.GetTimestamp();
        model.Run();
        timings[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }
    var allocated = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (double)timings.Length;
    Array.Sort(timings);
    return new Result(size, correct / (double)samples, TimeSpan.FromMicroseconds(timings[timings.Length / 2]), allocated);
}

static void Print(string name, Result r) =>
    Console.WriteLine($"{name,-12}{r.Size / 1024.0,9:0.0} KB{r.Accuracy,12:P2}{r.MedianLatency.TotalMicroseconds,11:0.0} µs{r.AllocatedPerRun,14:0} B");

static int ArgMax(ReadOnlySpan<float> scores)
{
    var best = 0;
    for (var i = 1; i < scores.Length; i++)
        if (scores[i] > scores[best]) best = i;
    return best;
}

internal readonly record struct Result(long Size, double Accuracy, TimeSpan MedianLatency, double AllocatedPerRun);
