using Google.Protobuf;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Testing;

/// <summary>
/// Models that parse as protobuf but that ONNX Runtime rejects, each with one fault, all with an input x [N, 4]
/// and an output y [N, 4] (so the same data fits them all).
/// </summary>
public static class RejectedModels
{
    public static IReadOnlyList<string> Faults { get; } =
    [
        "unknown-operator", "opset-1", "opset-999", "cycle", "duplicate-graph-output", "value-produced-twice",
        "raw-data-shorter-than-dims", "dims-of-10^12", "negative-dim",
    ];

    public static ModelProto Build(string fault) => fault switch
    {
        "unknown-operator" => Model().Node("NoSuchOperator", ["x"], ["y"]).Build(),
        "opset-1" => Model(opset: 1).Node("Relu", ["x"], ["y"]).Build(),
        "opset-999" => Model(opset: 999).Node("Relu", ["x"], ["y"]).Build(),
        "cycle" => Model().Node("Add", ["x", "c"], ["a"]).Node("Relu", ["a"], ["c"]).Node("Neg", ["a"], ["y"]).Build(),
        "duplicate-graph-output" => Model().Node("Relu", ["x"], ["y"]).Output("y", DataType.Float, "N", 4L).Build(),
        "value-produced-twice" => Model().Node("Relu", ["x"], ["y"]).Node("Neg", ["x"], ["y"]).Build(),
        "raw-data-shorter-than-dims" => WithBadWeight(w => w.RawData = ByteString.CopyFrom(new byte[8])),
        "dims-of-10^12" => WithBadWeight(w => w.Dims[0] = 1_000_000_000_000),
        "negative-dim" => WithBadWeight(w => w.Dims[0] = -4),
        _ => throw new ArgumentOutOfRangeException(nameof(fault), fault, null),
    };

    private static OnnxBuilder Model(int opset = 17) =>
        new OnnxBuilder(opset).Input("x", DataType.Float, "N", 4L).Output("y", DataType.Float, "N", 4L);

    // y = x + w, with the initializer w [4] damaged by `damage`.
    private static ModelProto WithBadWeight(Action<TensorProto> damage)
    {
        var model = Model().Initializer("w", [1f, 2f, 3f, 4f], 4).Node("Add", ["x", "w"], ["y"]).Build();
        damage(model.Graph.Initializer[0]);
        return model;
    }
}
