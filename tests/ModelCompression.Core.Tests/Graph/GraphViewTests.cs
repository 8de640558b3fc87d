using Google.Protobuf;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Graph;

public class GraphViewTests
{
    // x -> Relu -> r -> If(cond) { then: Add(r, c) ; else: Neg(r) } -> y ; r is also a graph output.
    private static ModelProto ModelWithBranches()
    {
        var thenBranch = new OnnxBuilder().Node("Add", ["r", "c"], ["t"]).Output("t", DataType.Float, 2).Graph();
        var elseBranch = new OnnxBuilder().Node("Neg", ["r"], ["e"]).Output("e", DataType.Float, 2).Graph();
        return new OnnxBuilder()
            .Input("x", DataType.Float, 2)
            .Input("cond", DataType.Bool)
            .Initializer("c", [1f, 2f], 2)
            .Node("Relu", ["x"], ["r"])
            .Node("If", ["cond"], ["y"], ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 2)
            .Output("r", DataType.Float, 2)
            .Build();
    }

    [Fact]
    public void Consumers_include_subgraph_readers_and_graph_outputs()
    {
        var view = new ModelView(ModelWithBranches());
        var main = view.Main;
        var ifNode = main.Nodes[1];

        var uses = main.Consumers("r");

        Assert.Equal(3, uses.Count);
        Assert.Equal(2, uses.Count(u => u.IsInSubgraph && ReferenceEquals(u.Holder, ifNode)));
        Assert.Equal(["Add", "Neg"], uses.Where(u => u.IsInSubgraph).Select(u => u.Node!.OpType).Order());
        Assert.Single(uses, u => u.IsGraphOutput);
        Assert.Same(main.Nodes[0], main.Producer("r"));
        Assert.Equal(["c", "r"], main.OuterReferences(ifNode).Order());
        Assert.Single(main.Consumers("c"), u => u.IsInSubgraph);
    }

    [Fact]
    public void A_subgraph_view_sees_outer_constants_and_its_parent()
    {
        var view = new ModelView(ModelWithBranches());
        var thenBranch = view.Main.Subgraphs(view.Main.Nodes[1])[0];

        Assert.Same(view.Main, thenBranch.Parent);
        Assert.False(thenBranch.IsMain);
        Assert.True(thenBranch.IsConstant("c"));
        Assert.False(thenBranch.IsConstant("r"));
        Assert.Null(thenBranch.Producer("r"));
        Assert.Equal(new[] { 1f, 2f }, thenBranch.TryGetConstant("c", out var c) ? c.ToFloats() : null);
    }

    public static TheoryData<string, object, float[]> ConstantForms => new()
    {
        { "value", NdArray.Create<float>([2], [1.5f, -2f]), [1.5f, -2f] },
        { "value_float", 3.25f, [3.25f] },
        { "value_floats", new[] { 1f, 2f, 3f }, [1f, 2f, 3f] },
        { "value_int", 7L, [7f] },
        { "value_ints", new long[] { 4, 5 }, [4f, 5f] },
    };

    [Theory]
    [MemberData(nameof(ConstantForms))]
    public void Constant_nodes_are_constants_in_every_attribute_form(string attribute, object value, float[] expected)
    {
        var model = new OnnxBuilder().Node("Constant", [], ["k"], (attribute, value)).Node("Identity", ["k"], ["y"]).Output("y", DataType.Float).Build();
        var view = new ModelView(model);

        Assert.True(view.Main.TryGetConstant("k", out var array));
        Assert.Equal(expected, array.ToFloats());
        Assert.Equal(attribute.EndsWith('s') || attribute == "value" ? 1 : 0, array.Rank);
    }

    [Fact]
    public void An_initializer_that_is_also_an_input_is_constant_only_before_IR_4()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2).Input("w", DataType.Float, 2).Initializer("w", [1f, 2f], 2)
            .Node("Add", ["x", "w"], ["y"]).Output("y", DataType.Float, 2).Build();

        Assert.False(new ModelView(model).Main.IsConstant("w")); // IR 8: a default the caller may override
        model.IrVersion = 3;
        Assert.True(new ModelView(model).Main.IsConstant("w")); // IR 3: every initializer is listed as an input
    }

    [Fact]
    public void Unique_names_avoid_every_name_at_every_depth()
    {
        var view = new ModelView(ModelWithBranches());

        Assert.Equal("t_1", view.Names.Next("t")); // "t" lives only inside the then-branch
        Assert.Equal("t_2", view.Names.Next("t"));
        Assert.Equal("fresh", view.Names.Next("fresh"));
        Assert.Equal("fresh_1", view.Names.Next("fresh"));
    }

    [Fact]
    public void RenameValue_renames_the_producer_every_reader_and_value_info()
    {
        var model = ModelWithBranches();
        model.Graph.Output.RemoveAt(1); // r is no longer a graph output
        model.Graph.ValueInfo.Add(OnnxFactory.TensorValueInfo("r", DataType.Float, 2));
        var view = new ModelView(model);

        view.Main.RenameValue("r", "relu_out");

        Assert.Equal("relu_out", model.Graph.Node[0].Output[0]);
        Assert.Equal("relu_out", view.Main.Subgraphs(model.Graph.Node[1])[0].Nodes[0].Input[0]);
        Assert.Equal("relu_out", view.Main.Subgraphs(model.Graph.Node[1])[1].Nodes[0].Input[0]);
        Assert.Equal("relu_out", Assert.Single(model.Graph.ValueInfo).Name);
        Assert.Empty(view.Main.Consumers("r"));
        Assert.Equal(2, view.Main.Consumers("relu_out").Count);
        OnnxStructure.Validate(model, "renamed");
    }

    [Fact]
    public void Graph_outputs_keep_their_names()
    {
        var view = new ModelView(ModelWithBranches());

        Assert.Throws<InvalidOperationException>(() => view.Main.RenameValue("r", "other"));
        Assert.Equal(2, view.Main.ReplaceUses("r", "x")); // the two subgraph readers; the graph output stays "r"
        Assert.Equal("r", view.Proto.Graph.Output[1].Name);
    }

    [Fact]
    public void Topological_order_follows_reads_including_subgraph_reads()
    {
        var model = ModelWithBranches();
        // Store the If before the Relu whose output its branches read.
        var relu = model.Graph.Node[0];
        model.Graph.Node.RemoveAt(0);
        model.Graph.Node.Add(relu);
        var view = new ModelView(model);

        Assert.Equal(["Relu", "If"], view.Main.TopologicalOrder().Select(n => n.OpType));
        view.Main.SortTopologically();
        Assert.Equal(["Relu", "If"], model.Graph.Node.Select(n => n.OpType));
    }

    [Fact]
    public void A_cycle_is_reported()
    {
        var model = new OnnxBuilder().Node("Relu", ["b"], ["a"]).Node("Relu", ["a"], ["b"]).Output("b", DataType.Float).Build();

        Assert.Throws<InvalidOperationException>(() => new ModelView(model).Main.TopologicalOrder());
    }

    [Fact]
    public void Edits_keep_the_indexes_true()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2).Node("Relu", ["x"], ["a"]).Node("Neg", ["a"], ["y"]).Output("y", DataType.Float, 2).Build();
        var graph = new ModelView(model).Main;
        var neg = graph.Nodes[1];

        var abs = OnnxFactory.Node("Abs", ["a"], ["b"], "abs");
        graph.InsertBefore(neg, abs);
        graph.SetInput(neg, 0, "b");
        Assert.Same(abs, graph.Producer("b"));
        Assert.Same(neg, Assert.Single(graph.Consumers("b")).Node);
        Assert.Same(abs, Assert.Single(graph.Consumers("a")).Node);

        var sigmoid = OnnxFactory.Node("Sigmoid", ["a"], ["b"], "sigmoid");
        graph.ReplaceNode(abs, sigmoid);
        Assert.Same(sigmoid, graph.Producer("b"));

        graph.RemoveNode(neg);
        Assert.Empty(graph.Consumers("b"));
        Assert.Equal(["Relu", "Sigmoid"], model.Graph.Node.Select(n => n.OpType));
    }

    [Fact]
    public void SetConstantInput_overwrites_a_private_initializer_and_copies_a_shared_one()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2)
            .Initializer("mine", [1f, 1f], 2).Initializer("shared", [2f, 2f], 2)
            .Node("Add", ["x", "mine"], ["a"]).Node("Mul", ["a", "shared"], ["b"]).Node("Sub", ["b", "shared"], ["y"])
            .Output("y", DataType.Float, 2).Build();
        var graph = new ModelView(model).Main;
        var value = NdArray.Create<float>([2], [5f, 6f]);

        Assert.Equal("mine", graph.SetConstantInput(graph.Nodes[0], 1, value, "w"));
        var copy = graph.SetConstantInput(graph.Nodes[1], 1, value, "shared");

        Assert.Equal("shared_1", copy);
        Assert.Equal(3, model.Graph.Initializer.Count);
        Assert.Equal(new[] { 5f, 6f }, TensorProtoConverter.ToNdArray(graph.Initializer("mine")!).ToFloats());
        Assert.Equal(new[] { 2f, 2f }, TensorProtoConverter.ToNdArray(graph.Initializer("shared")!).ToFloats());
    }

    [Fact]
    public void Before_IR_4_a_new_initializer_is_also_listed_as_an_input()
    {
        var model = new OnnxBuilder(7).Input("x", DataType.Float, 2).Node("Relu", ["x"], ["y"]).Output("y", DataType.Float, 2).Build();
        model.IrVersion = 3;
        var graph = new ModelView(model).Main;

        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([2], [1f, 2f]), "w"));
        Assert.Equal(["x", "w"], model.Graph.Input.Select(i => i.Name));
        graph.RemoveInitializer("w");
        Assert.Equal(["x"], model.Graph.Input.Select(i => i.Name));
    }

    [Fact]
    public void Fields_the_view_does_not_touch_survive_a_rewrite()
    {
        var model = ModelWithBranches();
        model.DocString = "model doc";
        model.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "me" });
        model.Graph.Node[0].DocString = "relu doc";
        model.Graph.ValueInfo.Add(OnnxFactory.TensorValueInfo("r", DataType.Float, 2));
        // An unknown field (number 1000, varint 42) as a newer ONNX version might write.
        var bytes = model.ToByteArray().Concat(new byte[] { 0xC0, 0x3E, 42 }).ToArray();
        var parsed = ModelProto.Parser.ParseFrom(bytes);
        var view = new ModelView(parsed);

        view.Main.InsertNode(1, OnnxFactory.Node("Abs", ["r"], ["unused"], "abs"));
        view.Main.RemoveNode(view.Main.Nodes[1]);

        Assert.Equal(bytes, parsed.ToByteArray());
    }
}
