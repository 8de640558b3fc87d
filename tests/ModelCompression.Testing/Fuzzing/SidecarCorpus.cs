using System.Text;
using ModelCompression.Signatures;

namespace ModelCompression.Testing.Fuzzing;

/// <summary>Valid signature sidecars and a mutator that knows their tokens: what fuzzes the sidecar reader and the generator that uses it.</summary>
public static class SidecarCorpus
{
    public static IReadOnlyList<byte[]> Seeds { get; } =
    [
        Encoding.UTF8.GetBytes(SignatureSidecar.Write(new SidecarContent("FashionCnn", "App.Models", "Models/fashion-cnn.onnx",
            [new("input", "float", [1, 1, 28, 28])], [new("logits", "float", [1, 10])]))),
        Encoding.UTF8.GetBytes(SignatureSidecar.Write(new SidecarContent("Model", "", "m.onnx",
            [new("in\tput\\x", "int64", []), new("state", "float16", [2, 1, 128])], [new("out\nput", "bool", [1]), new("y", "uint8", [0])]))),
        // Free dimensions: the generator's variable-shape wrapper.
        Encoding.UTF8.GetBytes(SignatureSidecar.Write(new SidecarContent("TextRecognizer", "Ocr", "Models/ppocr-rec.onnx",
            [new("x", "float", [1, 3, 48, 320], ["N", "3", "48", "W"]), new("mask", "uint8", [1, 320], ["N", "?"])],
            [new("y", "float", [1, 40, 6625], ["N", "?", "6625"])]))),
    ];

    public static IMutator Mutator { get; } = new ByteMutator(
        "\t", "\n", "\r\n", "\\", "\\t", "\\n", SignatureSidecar.Header, "1", "2", "class", "namespace", "model",
        "input", "output", "float", "int64", "string", "Run", "ModelPath", "global", ",", ",,", "-1", "0",
        "2147483647", "9223372036854775807", "18446744073709551616", "?", "N", "W", "N,?", "in");
}
