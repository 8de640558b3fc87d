using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Evaluation;

public class OnnxRuntimeFailureTests
{
    /// <summary>Messages as ONNX Runtime 1.31.1 gives them (for an unsupported opset, a short initializer, an unknown operator).</summary>
    [Theory]
    [InlineData(
        "[ErrorCode:Fail] /onnxruntime_src/onnxruntime/core/graph/model_load_utils.h:46 void onnxruntime::model_load_utils::ValidateOpsetForDomain(const std::unordered_map<std::__cxx11::basic_string<char>, int>&, const onnxruntime::logging::Logger&, bool, const std::string&, int) ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 999 is under development.",
        "ONNX Runtime only *guarantees* support for models stamped with official released onnx opset versions. Opset 999 is under development")]
    [InlineData(
        "[ErrorCode:Fail] Exception during initialization: /onnxruntime_src/onnxruntime/core/optimizer/initializer.cc:51 onnxruntime::Initializer::Initializer(const onnx::TensorProto&, const std::filesystem::__cxx11::path&) [ONNXRuntimeError] : 1 : FAIL : tensorprotoutils.cc:1534 ValidateEmbeddedTensorProtoDataSizeAndShape Initializer 'w': raw_data size (8 bytes) does not match expected size from shape and data type (16 bytes)\n\n",
        "Exception during initialization: Initializer 'w': raw_data size (8 bytes) does not match expected size from shape and data type (16 bytes)")]
    [InlineData(
        "[ErrorCode:Fail] tensorprotoutils.cc:1461 GetSizeInBytesFromTensorProto Out of bounds dimensions in TypeProto_Tensor",
        "Out of bounds dimensions in TypeProto_Tensor")]
    [InlineData(
        "[ErrorCode:NotImplemented] Could not find an implementation for Relu(1) node with name 'Relu_0'",
        "Could not find an implementation for Relu(1) node with name 'Relu_0'")]
    [InlineData(
        "\n[ErrorCode:Fail] Node (Add_0) Op (Add) [ShapeInferenceError] Incompatible dimensions\nStacktrace:\n#0 foo.cc:12 bar()",
        "Node (Add_0) Op (Add) [ShapeInferenceError] Incompatible dimensions")]
    public void The_summary_is_the_first_line_without_error_codes_or_source_locations(string message, string summary) =>
        Assert.Equal(summary, OnnxRuntimeFailure.Summary(message));

    [Fact]
    public void A_model_ONNX_Runtime_cannot_load_is_MC1003_naming_it_with_the_full_text_inside()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2).Node("NoSuchOperator", ["x"], ["y"]).Output("y", DataType.Float, 2).Build();

        var e = Assert.Throws<CompressionException>(() => new ModelRunner(model, "models/odd.onnx"));

        Assert.Equal(DiagnosticCode.ModelUnsupported, e.Code);
        Assert.Equal("models/odd.onnx", e.File);
        Assert.StartsWith("ONNX Runtime ", e.Message);
        Assert.Contains("cannot load 'models/odd.onnx': ", e.Message);
        Assert.Contains("No Op registered for NoSuchOperator", e.Message);
        Assert.DoesNotContain("[ErrorCode:", e.Message);
        Assert.Contains("[ErrorCode:", e.InnerException!.Message);
    }
}
