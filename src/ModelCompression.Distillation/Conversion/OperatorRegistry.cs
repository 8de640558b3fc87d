using ModelCompression.Core.Onnx;
using ModelCompression.Distillation.Conversion.Operators;
using ModelCompression.Distillation.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion;

/// <summary>
/// The operators of the standard ONNX domain a student can run, one entry each (after onnxruntime's quantization
/// registry). <c>Constant</c> has no entry: its value is loaded once, at conversion, as a fixed tensor or a parameter.
/// </summary>
internal static class OperatorRegistry
{
    private static readonly Dictionary<string, IOnnxOperator> Operators = new(StringComparer.Ordinal)
    {
        // Linear layers and normalisation
        ["Conv"] = new ConvOperator(),
        ["Gemm"] = new GemmOperator(),
        ["MatMul"] = new BinaryOperator(torch.matmul),
        ["BatchNormalization"] = new BatchNormalizationOperator(),
        // Element-wise arithmetic (numpy broadcasting)
        ["Add"] = new BinaryOperator(HeldScalars.Plus),
        ["Sub"] = new BinaryOperator((a, b) => a - b), // no Scalar: TorchSharp's sub has no alpha
        ["Mul"] = new BinaryOperator((a, b) => a * b),
        ["Div"] = new DivOperator(),
        ["Pow"] = new BinaryOperator((a, b) => a.pow(b)),
        ["Sum"] = new VariadicOperator(HeldScalars.Plus),
        ["Mean"] = new VariadicOperator(HeldScalars.Plus, mean: true),
        ["Max"] = new VariadicOperator(torch.maximum),
        ["Min"] = new VariadicOperator(torch.minimum),
        ["Sqrt"] = new UnaryOperator(x => x.sqrt()),
        ["Reciprocal"] = new UnaryOperator(x => x.reciprocal()),
        ["Neg"] = new UnaryOperator(x => x.neg()),
        ["Abs"] = new UnaryOperator(x => x.abs()),
        ["Exp"] = new UnaryOperator(x => x.exp()),
        ["Log"] = new UnaryOperator(x => x.log()),
        ["Erf"] = new UnaryOperator(x => x.erf()),
        ["Floor"] = new UnaryOperator(x => x.floor()),
        ["Ceil"] = new UnaryOperator(x => x.ceil()),
        // Comparisons and logic (boolean results)
        ["Equal"] = new BinaryOperator((a, b) => a.eq(b)),
        ["Less"] = new BinaryOperator((a, b) => a.lt(b)),
        ["LessOrEqual"] = new BinaryOperator((a, b) => a.le(b)),
        ["Greater"] = new BinaryOperator((a, b) => a.gt(b)),
        ["GreaterOrEqual"] = new BinaryOperator((a, b) => a.ge(b)),
        ["And"] = new BinaryOperator((a, b) => a.logical_and(b)),
        ["Or"] = new BinaryOperator((a, b) => a.logical_or(b)),
        ["Not"] = new UnaryOperator(x => x.logical_not()),
        ["Where"] = new WhereOperator(),
        // Activations
        ["Relu"] = new UnaryOperator(x => x.relu()),
        ["Sigmoid"] = new UnaryOperator(x => x.sigmoid()),
        ["Tanh"] = new UnaryOperator(x => x.tanh()),
        ["LeakyRelu"] = new LeakyReluOperator(),
        ["HardSigmoid"] = new HardSigmoidOperator(),
        ["HardSwish"] = new HardSwishOperator(),
        ["Clip"] = new ClipOperator(),
        ["Softmax"] = new SoftmaxOperator(logarithm: false),
        ["LogSoftmax"] = new SoftmaxOperator(logarithm: true),
        // Pooling and reductions
        ["MaxPool"] = new MaxPoolOperator(),
        ["AveragePool"] = new AveragePoolOperator(),
        ["GlobalAveragePool"] = new GlobalPoolOperator(maximum: false),
        ["GlobalMaxPool"] = new GlobalPoolOperator(maximum: true),
        ["ReduceMean"] = new ReduceOperator((x, axes, keep) => x.mean(axes, keep), axesInputSince: 18),
        ["ReduceSum"] = new ReduceOperator((x, axes, keep) => x.sum(axes, keep), axesInputSince: 13),
        ["ReduceMax"] = new ReduceOperator((x, axes, keep) => x.amax(axes, keep), axesInputSince: 18),
        ["ReduceMin"] = new ReduceOperator((x, axes, keep) => x.amin(axes, keep), axesInputSince: 18),
        // Shapes and indexing (the integer shape arithmetic runs on int64 tensors)
        ["Reshape"] = new ReshapeOperator(),
        ["Flatten"] = new FlattenOperator(),
        ["Transpose"] = new TransposeOperator(),
        ["Concat"] = new ConcatOperator(),
        ["Squeeze"] = new SqueezeOperator(),
        ["Unsqueeze"] = new UnsqueezeOperator(),
        ["Shape"] = new ShapeOperator(),
        ["Gather"] = new GatherOperator(),
        ["Slice"] = new SliceOperator(),
        ["Cast"] = new CastOperator(),
        ["Pad"] = new PadOperator(),
        ["Expand"] = new ExpandOperator(),
        ["Tile"] = new TileOperator(),
        ["Split"] = new SplitOperator(),
        ["Size"] = new SizeOperator(),
        ["Range"] = new RangeOperator(),
        ["ConstantOfShape"] = new ConstantOfShapeOperator(),
        // Pass-through at inference
        ["Identity"] = new IdentityOperator(),
        ["Dropout"] = new IdentityOperator(),
    };

    /// <summary>The operator that runs <paramref name="node"/>, or null when its operator (or domain) is not covered.</summary>
    public static IOnnxOperator? Find(NodeProto node) =>
        node.Domain is "" or "ai.onnx" && Operators.TryGetValue(node.OpType, out var op) ? op : null;

    public static IReadOnlyCollection<string> Covered => Operators.Keys;
}
