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
var (originalLatency, compressedLatency) = Latencies(original, compressed);
var originalResult = new Result(new FileInfo(originalPath).Length, Accuracy(original), originalLatency);
var compressedResult = new Result(new FileInfo(compressedPath).Length, Accuracy(compressed), compressedLatency);
Print("original", originalResult);
Print("compressed", compressedResult);
Console.WriteLine();
Console.WriteLine($"{originalResult.Size / (double)compressedResult.Size:0.0}x smaller, accuracy {100 * (compressedResult.Accuracy - originalResult.Accuracy):+0.00;-0.00} points, " +
                  $"latency x{compressedResult.Latency.Median.TotalMicroseconds / originalResult.Latency.Median.TotalMicroseconds:0.00}");

// The class names come from the Labels metadata; one batch of the last images.
var last = samples - FashionCnn.MaxBatchSize;
images.AsSpan(last * imageSize, FashionCnn.MaxBatchSize * imageSize).CopyTo(compressed.Input);
compressed.Run(FashionCnn.MaxBatchSize);
Console.WriteLine();
Console.WriteLine("Last images: " + string.Join(", ",
    Enumerable.Range(0, 4).Select(i => $"{compressed.LogitsArgMaxLabel(i)} (is {FashionCnn.Labels[(int)labels[last + i]]})")));

double Accuracy(FashionCnn model)
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
    return correct / (double)samples;
}

// The median of 2,000 batch-1 runs of each model and the managed bytes a run allocates (0 by design). The models take
// turns, run by run, so that both meet the machine's other load alike.
(Latency, Latency) Latencies(FashionCnn first, FashionCnn second)
{
    const int runs = 2000;
    FashionCnn[] models = [first, second];
    var timings = new double[models.Length][];
    var allocated = new long[models.Length];
    for (var m = 0; m < models.Length; m++)
    {
        timings[m] = new double[runs];
        images.AsSpan(0, imageSize).CopyTo(models[m].Input);
        models[m].Run(); // the first batch-1 run makes its binding
    }
    for (var i = 0; i < runs; i++)
    {
        for (var m = 0; m < models.Length; m++)
        {
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var start = Stopwatch.GetTimestamp();
            models[m].Run();
            timings[m][i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            allocated[m] += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        }
    }
    Latency Of(int m)
    {
        Array.Sort(timings[m]);
        return new Latency(TimeSpan.FromMicroseconds(timings[m][runs / 2]), allocated[m] / (double)runs);
    }
    return (Of(0), Of(1));
}

static void Print(string name, Result r) =>
    Console.WriteLine($"{name,-12}{r.Size / 1024.0,9:0.0} KB{r.Accuracy,12:P2}{r.Latency.Median.TotalMicroseconds,11:0.0} µs{r.Latency.AllocatedPerRun,14:0} B");

internal readonly record struct Result(long Size, double Accuracy, Latency Latency);

internal readonly record struct Latency(TimeSpan Median, double AllocatedPerRun);
