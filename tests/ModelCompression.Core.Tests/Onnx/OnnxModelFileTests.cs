using Google.Protobuf;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Onnx;

public class OnnxModelFileTests
{
    private static ModelProto TwoLayerModel() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 4)
        .Initializer("w1", Enumerable.Range(0, 32).Select(i => i / 10f - 1.5f).ToArray(), 4, 8)
        .Initializer("w2", Enumerable.Range(0, 16).Select(i => 0.25f * i).ToArray(), 8, 2)
        .Node("MatMul", ["x", "w1"], ["h"])
        .Node("Relu", ["h"], ["r"])
        .Node("MatMul", ["r", "w2"], ["y"])
        .Output("y", DataType.Float, "N", 2)
        .Build();

    [Fact]
    public void Save_then_load_gives_back_the_same_bytes()
    {
        using var dir = new TempDirectory();
        var model = TwoLayerModel();
        var path = dir.Combine("m.onnx");

        OnnxModelFile.Save(model, path);

        Assert.Equal(model.ToByteArray(), File.ReadAllBytes(path));
        Assert.Equal(model, OnnxModelFile.Load(path));
        Assert.Single(Directory.GetFiles(dir.Path)); // no temporary file left behind
    }

    [Fact]
    public void A_missing_model_is_MC1001()
    {
        var e = Assert.Throws<CompressionException>(() => OnnxModelFile.Load("/nonexistent/model.onnx"));
        Assert.Equal(DiagnosticCode.ModelNotFound, e.Code);
        Assert.Contains("/nonexistent/model.onnx", e.Message);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    public void A_truncated_model_is_MC1002(double keep)
    {
        var bytes = TwoLayerModel().ToByteArray();
        var truncated = bytes.AsSpan(0, (int)(bytes.Length * keep)).ToArray();

        var e = Assert.Throws<CompressionException>(() => OnnxModelFile.Parse(truncated, "cut.onnx"));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
        Assert.Contains("cut.onnx", e.Message);
    }

    [Fact]
    public void A_file_cut_at_a_field_boundary_is_still_MC1002()
    {
        // Without its opset_import (the last field) the bytes still parse as protobuf.
        var model = TwoLayerModel();
        model.OpsetImport.Clear();

        var e = Assert.Throws<CompressionException>(() => OnnxModelFile.Parse(model.ToByteArray(), "cut.onnx"));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
    }

    [Fact]
    public void A_node_reading_an_undefined_value_is_MC1002()
    {
        var model = TwoLayerModel();
        model.Graph.Node.RemoveAt(1); // the Relu that defines "r"

        var e = Assert.Throws<CompressionException>(() => OnnxModelFile.Parse(model.ToByteArray(), "broken.onnx"));

        Assert.Contains("'r'", e.Message);
    }

    [Fact]
    public void External_data_round_trips_and_runs_the_same()
    {
        using var dir = new TempDirectory();
        var model = TwoLayerModel();
        var path = dir.Combine("ext.onnx");

        OnnxModelFile.SaveWithExternalData(model, path, "ext.onnx.data", threshold: 16);

        var stored = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.All(stored.Graph.Initializer, t => Assert.True(ExternalData.IsExternal(t)));
        var loaded = OnnxModelFile.Load(path);
        Assert.Equal(model, loaded);
        var input = new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([2, 4], [1, 2, 3, 4, -1, -2, -3, -4]) };
        using var a = new ModelRunner(model, "model");
        using var b = new ModelRunner(loaded, "loaded");
        Assert.Equal(a.Run(input)["y"].Data, b.Run(input)["y"].Data);
    }

    [Fact]
    public void Missing_or_short_external_data_is_MC1004()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("ext.onnx");
        OnnxModelFile.SaveWithExternalData(TwoLayerModel(), path, "ext.onnx.data", threshold: 16);
        var data = dir.Combine("ext.onnx.data");

        File.WriteAllBytes(data, File.ReadAllBytes(data).AsSpan(0, 100).ToArray());
        Assert.Equal(DiagnosticCode.ExternalDataMissing, Assert.Throws<CompressionException>(() => OnnxModelFile.Load(path)).Code);

        File.Delete(data);
        var e = Assert.Throws<CompressionException>(() => OnnxModelFile.Load(path));
        Assert.Equal(DiagnosticCode.ExternalDataMissing, e.Code);
        Assert.Contains("ext.onnx.data", e.Message);
    }

    [Fact]
    public void External_data_inside_an_If_branch_is_found()
    {
        var branch = new OnnxBuilder()
            .Initializer("k", [1f, 2f, 3f, 4f, 5f, 6f], 6)
            .Node("Identity", ["k"], ["out"])
            .Output("out", DataType.Float, 6)
            .Graph();
        var model = new OnnxBuilder()
            .Input("c", DataType.Bool)
            .Node("If", ["c"], ["y"], ("then_branch", branch), ("else_branch", branch))
            .Output("y", DataType.Float, 6)
            .Build();
        var tensors = OnnxWalk.Tensors(model).ToList();

        Assert.Equal(2, tensors.Count);
        Assert.All(tensors, t => Assert.Equal("k", t.Name));
    }
}
