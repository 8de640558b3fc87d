using Google.Protobuf;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Onnx;

/// <summary>What ONNX Runtime would reject for its structure is MC1002 at load, before any pass or session sees it.</summary>
public class OnnxStructureTests
{
    // y = Relu(x + w), w [4] float.
    private static ModelProto Valid() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 4L)
        .Initializer("w", [1f, 2f, 3f, 4f], 4)
        .Node("Add", ["x", "w"], ["s"])
        .Node("Relu", ["s"], ["y"])
        .Output("y", DataType.Float, "N", 4L)
        .Build();

    public static TheoryData<string, string> Broken => new()
    {
        { "cycle", "its nodes form a cycle: 2 nodes, such as 'Add_0' (Add), wait on their own outputs" },
        { "cycle through an If branch", "its nodes form a cycle" },
        { "produced twice", "'s' is produced twice, by node 'Add_0' (Add) and by node 'Neg_2' (Neg)" },
        { "produces an initializer", "node 'Neg_2' (Neg) produces 'w', which is already a graph input or initializer" },
        { "output listed twice", "it lists graph output 'y' twice" },
        { "raw data too short", "tensor 'w' holds 8 bytes of data where its dims [4] of float need 16 bytes" },
        { "typed data too long", "tensor 'w' holds 5 values where its dims [4] of float need 4" },
        { "negative dim", "tensor 'w' has a negative dimension in its dims [-4]" },
        { "dims overflow", "tensor 'w' has dims [4294967296,4294967296], more elements than any tensor can hold" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void A_structural_fault_is_MC1002_saying_what_is_wrong(string fault, string expected)
    {
        var model = Break(Valid(), fault);

        var e = Assert.Throws<CompressionException>(() => OnnxModelFile.Parse(model.ToByteArray(), "m.onnx"));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
        Assert.Equal("m.onnx", e.File);
        Assert.Contains(expected, e.Message);
    }

    public static TheoryData<string> Legal => new()
    {
        "IR 3 initializer listed as an input",
        "If branch returning one value twice",
        "int4 packed two per byte",
        "empty tensor",
        "typed float data",
        "string tensor",
    };

    [Theory]
    [MemberData(nameof(Legal))]
    public void Legal_forms_pass(string form)
    {
        var model = Valid();
        var w = model.Graph.Initializer[0];
        switch (form)
        {
            case "IR 3 initializer listed as an input":
                model.IrVersion = 3;
                model.Graph.Input.Add(OnnxFactory.TensorValueInfo("w", DataType.Float, [4L]));
                break;
            case "If branch returning one value twice":
                var branch = new OnnxBuilder().Node("Neg", ["y"], ["n"]).Output("n", DataType.Float).Output("n", DataType.Float).Graph();
                model.Graph.Input.Add(OnnxFactory.TensorValueInfo("cond", DataType.Bool, []));
                model.Graph.Node.Add(OnnxFactory.Node("If", ["cond"], ["a", "b"], "If_9", attributes: [("then_branch", branch), ("else_branch", branch)]));
                break;
            case "int4 packed two per byte":
                model.Graph.Initializer.Add(new TensorProto { Name = "q", DataType = (int)DataType.Int4, Dims = { 3 }, RawData = ByteString.CopyFrom(new byte[2]) });
                break;
            case "empty tensor":
                model.Graph.Initializer.Add(new TensorProto { Name = "e", DataType = (int)DataType.Float, Dims = { 0, 4 } });
                break;
            case "typed float data":
                w.ClearRawData();
                w.FloatData.AddRange([1f, 2f, 3f, 4f]);
                break;
            case "string tensor":
                model.Graph.Initializer.Add(new TensorProto { Name = "t", DataType = (int)DataType.String, Dims = { 2 }, StringData = { ByteString.CopyFromUtf8("a"), ByteString.CopyFromUtf8("b") } });
                break;
        }

        OnnxModelFile.Parse(model.ToByteArray(), "m.onnx");
    }

    private static ModelProto Break(ModelProto model, string fault)
    {
        var graph = model.Graph;
        var w = graph.Initializer[0];
        switch (fault)
        {
            case "cycle": // Add reads Relu's output, which reads Add's
                graph.Node[0].Input[0] = "y";
                graph.Output[0].Name = "s";
                break;
            case "cycle through an If branch": // the branch reads "t", which a node after the If computes from its output
                var branch = new OnnxBuilder().Node("Neg", ["t"], ["n"]).Output("n", DataType.Float).Graph();
                graph.Input.Add(OnnxFactory.TensorValueInfo("cond", DataType.Bool, []));
                graph.Node.Add(OnnxFactory.Node("If", ["cond"], ["i"], "If_2", attributes: [("then_branch", branch), ("else_branch", branch)]));
                graph.Node.Add(OnnxFactory.Node("Neg", ["i"], ["t"], "Neg_3"));
                break;
            case "produced twice":
                graph.Node.Add(OnnxFactory.Node("Neg", ["x"], ["s"], "Neg_2"));
                break;
            case "produces an initializer":
                graph.Node.Add(OnnxFactory.Node("Neg", ["x"], ["w"], "Neg_2"));
                break;
            case "output listed twice":
                graph.Output.Add(graph.Output[0].Clone());
                break;
            case "raw data too short":
                w.RawData = ByteString.CopyFrom(new byte[8]);
                break;
            case "typed data too long":
                w.ClearRawData();
                w.FloatData.AddRange([1f, 2f, 3f, 4f, 5f]);
                break;
            case "negative dim":
                w.Dims[0] = -4;
                break;
            case "dims overflow":
                w.Dims[0] = 1L << 32;
                w.Dims.Add(1L << 32);
                break;
        }
        return model;
    }
}
