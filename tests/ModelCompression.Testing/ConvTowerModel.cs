using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Testing;

/// <summary>
/// The shape of a <see cref="ConvTowerModel"/>: input [N, <see cref="InputChannels"/>, <see cref="Size"/>, <see cref="Size"/>],
/// a stem Conv to <see cref="Width"/> channels, <see cref="Blocks"/> Conv 3×3 blocks (with <see cref="Residual"/>, pairs
/// y = x + conv(relu(conv(x))) and a last odd block without Relu; without it, Conv + Relu each), then GlobalAveragePool,
/// Flatten and a Gemm to <see cref="Classes"/> scores.
/// </summary>
public sealed record ConvTowerShape(int InputChannels, int Size, int Width, int Blocks, int Classes, bool Residual = true)
{
    /// <summary>
    /// 45 blocks of 256 channels: 26,563,338 parameters, a 106 MB file. The spatial size is 6×6 so that a sample
    /// costs about 1.9 GFLOP: ONNX Runtime runs a hundred of them in seconds on two cores.
    /// </summary>
    public static ConvTowerShape HundredMegabytes { get; } = new(InputChannels: 3, Size: 6, Width: 256, Blocks: 45, Classes: 10);

    private const int Kernel = 3 * 3;

    private long StemWeights => (long)Width * InputChannels * Kernel;

    private long BlockWeights => (long)Width * Width * Kernel;

    private long HeadWeights => (long)Width * Classes;

    /// <summary>Every float weight and bias element: what the planner compresses, and 4 bytes each in the file.</summary>
    public long ParameterCount => StemWeights + Width + Blocks * (BlockWeights + Width) + HeadWeights + Classes;

    /// <summary>Multiply-adds of one sample: each convolution weight once per pixel, each head weight once.</summary>
    public long MultiplyAddsPerSample => (StemWeights + Blocks * BlockWeights) * Size * Size + HeadWeights;

    public long[] InputShape(int samples) => [samples, InputChannels, Size, Size];
}

/// <summary>
/// A large but cheap classifier built in C#: a tower of 3×3 convolutions on a tiny image, whose weights dominate the
/// file while a sample costs little to run. Weights are He-uniform from a seed (variance 2 / fan-in) with each filter
/// summing to zero; the residual tower (a linear stem, then pairs y = x + g·conv(relu(conv(x))) with g = 1/√pairs) grows
/// the activations by about √e over all pairs and keeps what distinguishes its inputs, as a normalised residual network
/// does, so int8 weights stay near-lossless (ConvTowerModelTests). The inputs form classes and the head separates them
/// like a trained one. Building runs ONNX Runtime once (seconds).
/// </summary>
public static class ConvTowerModel
{
    public const string InputName = "x";
    public const string OutputName = "scores";

    /// <summary>Samples the head is standardized on (<see cref="Build"/>): enough for a stable mean and spread per class.</summary>
    public const int ReferenceSamples = 128;

    public static ModelProto Build(ConvTowerShape shape, int seed)
    {
        var weights = new WeightSource(seed);
        var model = Body(shape, weights);
        AddCentroidHead(model, shape, Features(model, Inputs(shape, ReferenceSamples, seed + 1)));
        return model;
    }

    /// <summary>Seeds the class prototypes, shared by every data set and model of a shape, as a real task's classes are.</summary>
    private const int PrototypeSeed = 1;

    /// <summary>How much uniform noise in [-1, 1) is added to a sample's prototype (also uniform in [-1, 1)).</summary>
    private const float NoiseAmplitude = 0.5f;

    /// <summary>
    /// Seeded inputs: sample i is the random image of class i mod <see cref="ConvTowerShape.Classes"/> plus seeded noise.
    /// Like a real data set, the samples form classes that the model separates (<see cref="AddCentroidHead"/>), so few of
    /// them lie near a tie between two classes, and agreement judges the model rather than noise around a tie.
    /// </summary>
    public static NdArray Inputs(ConvTowerShape shape, int samples, int seed)
    {
        var prototypes = SyntheticInputs.Uniform(shape.InputShape(shape.Classes), PrototypeSeed).ToFloats();
        var values = SyntheticInputs.Uniform(shape.InputShape(samples), seed).ToFloats();
        var size = prototypes.Length / shape.Classes;
        for (var i = 0; i < values.Length; i++)
            values[i] = prototypes[i / size % shape.Classes * size + i % size] + NoiseAmplitude * values[i];
        return NdArray.Create<float>(shape.InputShape(samples), values);
    }

    /// <summary>Writes <paramref name="samples"/> seeded inputs as an unlabelled .npz (no labels: the default metric is agreement).</summary>
    public static void WriteData(string path, ConvTowerShape shape, int samples, int seed) =>
        NpzArchive.Write(path, [new(InputName, Inputs(shape, samples, seed))], compressed: false);

    private const string FeaturesName = "features";

    // Stem, blocks, GlobalAveragePool and Flatten: the model up to the [N, width] features.
    private static ModelProto Body(ConvTowerShape shape, WeightSource weights)
    {
        var builder = new OnnxBuilder(17)
            .Input(InputName, DataType.Float, "N", shape.InputChannels, shape.Size, shape.Size)
            .Output(FeaturesName, DataType.Float, "N", shape.Width);

        var current = Conv(builder, weights, "stem", InputName, shape.InputChannels, shape.Width, gain: 1, relu: !shape.Residual);
        var pairs = shape.Blocks / 2;
        var residualGain = shape.Residual && pairs > 0 ? 1 / Math.Sqrt(pairs) : 1;
        var pairInput = current;
        for (var block = 0; block < shape.Blocks; block++)
        {
            var closesPair = shape.Residual && block % 2 == 1 && block < 2 * pairs;
            // A pair's second convolution has no Relu: its branch adds signed corrections to the stream, not a growing mean.
            var last = block == shape.Blocks - 1;
            current = Conv(builder, weights, $"block{block}", current, shape.Width, shape.Width, closesPair ? residualGain : 1, relu: !closesPair && !(shape.Residual && last));
            if (!closesPair) continue;
            var sum = $"block{block}_residual";
            builder.Node("Add", [pairInput, current], [sum], sum);
            current = pairInput = sum;
        }

        return builder.Node("GlobalAveragePool", [current], ["pooled"], "pool")
            .Node("Flatten", ["pooled"], [FeaturesName], "flatten", ("axis", 1L))
            .Build();
    }

    private static float[] Features(ModelProto body, NdArray inputs)
    {
        using var runner = new ModelRunner(body, "conv tower body");
        return runner.Run(new Dictionary<string, NdArray> { [InputName] = inputs })[FeaturesName].ToFloats();
    }

    /// <summary>
    /// Replaces the features output by a Gemm to the class scores, set as a trained classifier would be: each class's
    /// weights are its reference samples' mean features less the mean over all of them (random Relu features share a
    /// large mean), scaled and offset so that its score has mean 0 and spread 1 over the reference samples.
    /// </summary>
    private static void AddCentroidHead(ModelProto model, ConvTowerShape shape, float[] features)
    {
        var (width, classes) = (shape.Width, shape.Classes);
        var samples = features.Length / width;
        var mean = new double[width];
        var centroids = new double[classes, width];
        for (var s = 0; s < samples; s++)
            for (var k = 0; k < width; k++)
            {
                mean[k] += features[s * width + k] / samples;
                centroids[s % classes, k] += features[s * width + k];
            }

        var w = new float[width * classes];
        var b = new float[classes];
        for (var c = 0; c < classes; c++)
        {
            var members = Enumerable.Range(0, samples).Count(s => s % classes == c);
            var direction = Enumerable.Range(0, width).Select(k => centroids[c, k] / members - mean[k]).ToArray();
            var scores = Enumerable.Range(0, samples).Select(s => Enumerable.Range(0, width).Sum(k => features[s * width + k] * direction[k])).ToArray();
            var average = scores.Average();
            var spread = Math.Sqrt(scores.Average(v => (v - average) * (v - average)));
            var scale = spread > 0 ? 1 / spread : 1;
            for (var k = 0; k < width; k++) w[k * classes + c] = (float)(direction[k] * scale);
            b[c] = (float)(-average * scale);
        }

        var graph = model.Graph;
        graph.Initializer.Add(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([width, classes], w), "head_w"));
        graph.Initializer.Add(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([classes], b), "head_b"));
        graph.Node.Add(OnnxFactory.Node("Gemm", [FeaturesName, "head_w", "head_b"], [OutputName], "head"));
        graph.Output.Clear();
        graph.Output.Add(OnnxFactory.TensorValueInfo(OutputName, DataType.Float, "N", classes));
    }

    // Conv 3×3 (pads 1, so the tiny image keeps its size) + bias, then Relu if asked; returns the last output.
    private static string Conv(OnnxBuilder builder, WeightSource weights, string name, string input, int inChannels, int outChannels, double gain, bool relu = true)
    {
        var fanIn = inChannels * 9;
        builder.Initializer($"{name}_w", weights.HeUniformZeroSum(outChannels, fanIn, gain), outChannels, inChannels, 3, 3)
            .Initializer($"{name}_b", weights.Uniform(outChannels, 0.01f), outChannels)
            .Node("Conv", [input, $"{name}_w", $"{name}_b"], [$"{name}_conv"], name,
                ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }));
        if (!relu) return $"{name}_conv";
        builder.Node("Relu", [$"{name}_conv"], [$"{name}_relu"], $"{name}_relu");
        return $"{name}_relu";
    }

    /// <summary>One seeded stream for every tensor, drawn in build order: the same seed gives the same bytes.</summary>
    private sealed class WeightSource(int seed)
    {
        private readonly Random _random = new(seed);

        /// <summary>Uniform in ±√(6 / fan-in)·gain: variance 2·gain² / fan-in (He).</summary>
        public float[] HeUniform(int count, int fanIn, double gain) => Uniform(count, (float)(Math.Sqrt(6.0 / fanIn) * gain));

        /// <summary>
        /// <see cref="HeUniform"/> with each filter's weights shifted to sum to zero: a filter then ignores what all its
        /// inputs share (Relu outputs are positive, so that shared mean is large), and the features keep what differs.
        /// </summary>
        public float[] HeUniformZeroSum(int filters, int fanIn, double gain)
        {
            var values = HeUniform(filters * fanIn, fanIn, gain);
            for (var f = 0; f < filters; f++)
            {
                var filter = values.AsSpan(f * fanIn, fanIn);
                var mean = 0.0;
                foreach (var v in filter) mean += v;
                mean /= fanIn;
                for (var i = 0; i < filter.Length; i++) filter[i] = (float)(filter[i] - mean);
            }
            return values;
        }

        public float[] Uniform(int count, float limit)
        {
            var values = new float[count];
            for (var i = 0; i < values.Length; i++) values[i] = (_random.NextSingle() * 2 - 1) * limit;
            return values;
        }
    }
}
