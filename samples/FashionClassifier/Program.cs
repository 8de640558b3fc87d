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
var samples = labels.Length;

using var compressed = new FashionCnn();
using var original = new FashionCnn(originalPath);
// The input span has room for MaxBatchSize images of InputSampleLength floats each.
const int imageSize = FashionCnn.InputSampleLength;

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

// The class names come from the Labels metadata; one batch of the last images.
var last = samples - FashionCnn.MaxBatchSize;
images.AsSpan(last * imageSize, FashionCnn.MaxBatchSize * imageSize).CopyTo(compressed.Input);
compressed.Run(FashionCnn.MaxBatchSize);
Console.WriteLine();
Console.WriteLine("Last images: " + string.Join(", ",
    Enumerable.Range(0, 4).Select(i => $"{compressed.LogitsArgMaxLabel(i)} (is {FashionCnn.Labels[(int)labels[last + i]]})")));

Result Measure(FashionCnn model, long size)
{
    // Batches of MaxBatchSize images: one Run(batchSize) classifies them all.
    var correct = 0;
    for (var first = 0; first < samples; first += FashionCnn.MaxBatchSize)
    {
        var batch = Math.Min(FashionCnn.MaxBatchSize, samples - first);
        images.AsSpan(first * imageSize, batch * imageSize).CopyTo(model.Input);
        model.Run(batch);
        for (var i = 0; i < batch; i++)
            if (model.LogitsArgMax(i) == labels[first + i]) correct++;
    }

    // Median latency of one batch-1 run, and the managed bytes each run allocates (0 by design).
    images.AsSpan(0, imageSize).CopyTo(model.Input);
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

internal readonly record struct Result(long Size, double Accuracy, TimeSpan MedianLatency, double AllocatedPerRun);
