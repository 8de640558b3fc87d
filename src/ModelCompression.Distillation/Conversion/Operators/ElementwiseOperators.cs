using ModelCompression.Core.Onnx;
using ModelCompression.Distillation.Native;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>An element-wise operator of one input whose TorchSharp function has the ONNX semantics (Relu, Sigmoid, Sqrt...).</summary>
internal sealed class UnaryOperator(Func<Tensor, Tensor> function) : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call) => [function(call.Input(0))];
}

/// <summary>
/// An element-wise operator of two inputs with numpy broadcasting, which TorchSharp shares with ONNX
/// (Add, Sub, Mul, MatMul's batch axes, Pow...).
/// </summary>
internal sealed class BinaryOperator(Func<Tensor, Tensor, Tensor> function) : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call) => [function(call.Input(0), call.Input(1))];
}

/// <summary>Div: true division on floats, but integer division truncates in ONNX (shape arithmetic relies on it).</summary>
internal sealed class DivOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var (a, b) = (call.Input(0), call.Input(1));
        return [a.is_floating_point() ? a.div(b) : a.div(b, RoundingMode.trunc)];
    }
}

/// <summary>Sum, Max, Min, Mean of any number of inputs (variadic, broadcasting).</summary>
internal sealed class VariadicOperator(Func<Tensor, Tensor, Tensor> combine, bool mean = false) : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var result = call.Input(0);
        for (var i = 1; i < call.InputCount; i++) result = combine(result, call.Input(i));
        return [mean ? HeldScalars.With(call.InputCount, count => result.div(count)) : result];
    }
}

/// <summary>Identity, and Dropout at inference (the data passes unchanged; the optional mask is all true).</summary>
internal sealed class IdentityOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var input = call.Input(0);
        // A fresh handle, so that the value can be disposed apart from its source (e.g. a graph input returned as an output).
        var output = input.alias();
        return call.Node.Output.Count > 1 && call.Node.Output[1].Length > 0
            ? [output, ones_like(input, dtype: ScalarType.Bool)]
            : [output];
    }
}
