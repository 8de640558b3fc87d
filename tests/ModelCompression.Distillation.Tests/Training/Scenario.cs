using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Training;

namespace ModelCompression.Distillation.Tests.Training;

/// <summary>A fixed random teacher MLP, Gaussian inputs, and its outputs on a training set and a holdout set.</summary>
internal sealed class Scenario
{
    public const int Inputs = 16, Hidden = 32, Classes = 10;

    public Scenario(int trainingSamples = 1024, int holdoutSamples = 512, bool softmax = false, int seed = 7)
    {
        Softmax = softmax;
        TeacherWeights = MlpStudent.RandomWeights(Inputs, Hidden, Classes, seed);
        Teacher = new MlpStudent(TeacherWeights, softmax);
        var random = new Random(seed + 1);
        Training = Data(MlpStudent.Normal(random, [trainingSamples, Inputs], 1));
        Holdout = Data(MlpStudent.Normal(random, [holdoutSamples, Inputs], 1));
    }

    public bool Softmax { get; }

    public IReadOnlyDictionary<string, NdArray> TeacherWeights { get; }

    public MlpStudent Teacher { get; }

    public TrainingData Training { get; }

    public TrainingData Holdout { get; }

    /// <summary>The teacher's weights plus Gaussian noise of <paramref name="scale"/>: a student far enough off to learn from the teacher.</summary>
    public IReadOnlyDictionary<string, NdArray> Perturbed(double scale, int seed = 5)
    {
        var random = new Random(seed);
        return TeacherWeights.ToDictionary(w => w.Key, w =>
        {
            var noise = MlpStudent.Normal(random, w.Value.Shape.ToArray(), scale).AsSpan<float>().ToArray();
            return NdArray.Create<float>(w.Value.Shape, w.Value.AsSpan<float>().ToArray().Zip(noise, (a, b) => a + b).ToArray());
        }, StringComparer.Ordinal);
    }

    /// <summary>The teacher's top-1 classes on the training set.</summary>
    public long[] TeacherClasses(TrainingData data) => ArgMax(data.TeacherOutputs[MlpStudent.Output]);

    public MlpStudent Student(IReadOnlyDictionary<string, NdArray> weights) => new(weights, Softmax);

    /// <summary>Fraction of holdout samples whose top-1 class under <paramref name="weights"/> is the teacher's.</summary>
    public double Agreement(IReadOnlyDictionary<string, NdArray> weights, TrainingData? data = null)
    {
        data ??= Holdout;
        using var student = Student(weights);
        var predicted = ArgMax(student.Run(data.Inputs)[MlpStudent.Output]);
        var expected = TeacherClasses(data);
        return predicted.Zip(expected).Count(p => p.First == p.Second) / (double)expected.Length;
    }

    /// <summary>Fraction of samples whose top-1 class under <paramref name="weights"/> is the label.</summary>
    public static double Accuracy(IReadOnlyDictionary<string, NdArray> weights, TrainingData data, bool softmax)
    {
        using var student = new MlpStudent(weights, softmax);
        var predicted = ArgMax(student.Run(data.Inputs)[MlpStudent.Output]);
        return predicted.Zip(data.Labels!).Count(p => p.First == p.Second) / (double)predicted.Length;
    }

    /// <summary>
    /// The weights as the plan's int4 step stores them: Core's own per-channel quantizer (axis 0, codes −7..7), dequantized.
    /// </summary>
    public static Dictionary<string, NdArray> QuantizedInt4(IReadOnlyDictionary<string, NdArray> weights) =>
        weights.ToDictionary(w => w.Key, w => MlpStudent.Matrices.Contains(w.Key) ? Dequantized(w.Value, qmax: 7) : w.Value, StringComparer.Ordinal);

    /// <summary>The weights as the plan's palettization stores them: one palette per matrix, Core's k-means, each value its nearest entry.</summary>
    public static Dictionary<string, NdArray> Palettized(IReadOnlyDictionary<string, NdArray> weights, int entries) =>
        weights.ToDictionary(w => w.Key, w =>
        {
            if (!MlpStudent.Matrices.Contains(w.Key)) return w.Value;
            var values = w.Value.AsSpan<float>().ToArray();
            var palette = KMeans1D.Fit(values, entries);
            return NdArray.Create<float>(w.Value.Shape, values.Select(v => palette.MinBy(c => Math.Abs(c - v))).ToArray());
        }, StringComparer.Ordinal);

    /// <summary>The weights as Core's int4 pass stores them in blocks along the input axis (symmetric), dequantized.</summary>
    public static Dictionary<string, NdArray> QuantizedInt4Blocks(IReadOnlyDictionary<string, NdArray> weights, int blockSize) =>
        weights.ToDictionary(w => w.Key, w =>
        {
            if (!MlpStudent.Matrices.Contains(w.Key)) return w.Value;
            var (rows, columns) = ((int)w.Value.Shape[0], (int)w.Value.Shape[1]);
            var block = Int4WeightQuantization.BlockSizeFor(columns, blockSize);
            return NdArray.Create<float>(w.Value.Shape, BlockQuantizer.Quantize(w.Value.AsSpan<float>(), rows, columns, block, symmetric: true).Dequantize());
        }, StringComparer.Ordinal);

    public static NdArray Dequantized(NdArray weight, int qmax, int axis = 0)
    {
        var (codes, scales) = PerChannelQuantizer.Quantize(weight.AsSpan<float>(), weight.Shape, axis, qmax);
        long inner = 1;
        for (var i = axis + 1; i < weight.Rank; i++) inner *= weight.Shape[i];
        var values = codes.Select((c, i) => c * scales[(int)(i / inner % weight.Shape[axis])]).ToArray();
        return NdArray.Create<float>(weight.Shape, values);
    }

    public static long[] ArgMax(NdArray scores)
    {
        var values = scores.ToFloats();
        var classes = (int)scores.Shape[^1];
        var rows = values.Length / classes;
        var result = new long[rows];
        for (var r = 0; r < rows; r++)
        {
            var row = values.AsSpan(r * classes, classes);
            var best = 0;
            for (var c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
            result[r] = best;
        }
        return result;
    }

    private TrainingData Data(NdArray inputs)
    {
        var feed = new Dictionary<string, NdArray> { [MlpStudent.Input] = inputs };
        return new TrainingData(feed, Teacher.Run(feed));
    }
}
