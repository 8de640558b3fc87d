using ModelCompression.Signatures;

namespace ModelCompression.Generators.Tests;

/// <summary>The signatures the snapshot and compile tests generate wrappers for.</summary>
internal static class SidecarCases
{
    /// <summary>fashion-cnn: one float input, one float output.</summary>
    public static readonly SidecarContent FashionCnn = new("FashionCnn", "FashionClassifier", "Models/fashion-cnn.onnx",
        [new("input", "float", [1, 1, 28, 28])],
        [new("logits", "float", [1, 10])]);

    /// <summary>silero-vad-like names, a scalar, and several element types.</summary>
    public static readonly SidecarContent MixedTypes = new("SileroVad", "Audio.Detection", "Models/silero_vad.onnx",
        [
            new("input", "float16", [1, 512]),
            new("state", "float", [2, 1, 128]),
            new("sr", "int64", []),
            new("frame", "int32", [1]),
        ],
        [
            new("output", "float", [1, 1]),
            new("stateN", "float", [2, 1, 128]),
            new("speech", "bool", [1]),
            new("level", "uint8", [1]),
        ]);

    /// <summary>ONNX names that need sanitising or deduplication, and characters that need escaping.</summary>
    public static readonly SidecarContent AwkwardNames = new("Detector", "My.App", "Models/detector \"v2\".onnx",
        [
            new("softmax_11.tmp_0", "float", [1, 2]),
            new("123", "float", [1]),
            new("x", "float", [1]),
            new("X", "float", [1]),
            new("x_shape", "int64", [2]),
            new("Run", "float", [1]),
            new("detector", "float", [1]),
            new("ToString", "float", [1]),
            new("a<b>&\"c\\d", "float", [1]),
            new("line\nbreak", "float", [1]),
        ],
        [
            new("output", "float", [1]),
            new(":", "float", [1]),
            new("0", "float", [1]),
            new("input:0", "float", [1]),
        ]);

    /// <summary>An empty Namespace: the class goes into the global namespace.</summary>
    public static readonly SidecarContent GlobalNamespace = new("TinyModel", "", "tiny.onnx",
        [new("x", "double", [3])],
        [new("y", "int16", [3]), new("z", "uint64", [])]);

    /// <summary>ppocr-rec's signature: a batch axis N, a free width W, an output whose time axis follows W.</summary>
    public static readonly SidecarContent TextRecognizer = new("TextRecognizer", "Ocr", "Models/ppocr-rec.onnx",
        [new("x", "float", [1, 3, 48, 320], ["N", "3", "48", "W"])],
        [new("softmax_11.tmp_0", "float", [1, 40, 6625], ["N", "?", "6625"])]);

    /// <summary>fashion-cnn as its graph declares it: a free batch axis.</summary>
    public static readonly SidecarContent FashionCnnBatched = new("FashionCnn", "FashionClassifier", "Models/fashion-cnn.onnx",
        [new("input", "float", [1, 1, 28, 28], ["N", "1", "28", "28"])],
        [new("logits", "float", [1, 10], ["N", "10"])]);

    /// <summary>Two inputs sharing named free dimensions H and W, an unnamed free dimension and a keyword as a dim_param.</summary>
    public static readonly SidecarContent Detector = new("Detector", "Vision", "Models/detector.onnx",
        [
            new("image", "float", [1, 3, 480, 640], ["batch", "3", "H", "W"]),
            new("mask", "uint8", [1, 480, 640], ["batch", "H", "W"]),
            new("prompt", "int64", [1, 7], ["batch", "in"]),
            new("scale", "float", [1, 2], ["batch", "?"]),
        ],
        [
            new("boxes", "float", [1, 100, 4], ["batch", "?", "4"]),
            new("count", "int64", [1], ["batch"]),
        ]);

    public static readonly TheoryData<string> Names =
    [
        nameof(FashionCnn), nameof(MixedTypes), nameof(AwkwardNames), nameof(GlobalNamespace),
        nameof(TextRecognizer), nameof(FashionCnnBatched), nameof(Detector), EmbeddedFashionCnn,
    ];

    /// <summary>FashionCnn with Embed="true".</summary>
    public const string EmbeddedFashionCnn = "EmbeddedFashionCnn";

    public static SidecarContent Get(string name) => name switch
    {
        nameof(FashionCnn) or EmbeddedFashionCnn => FashionCnn,
        nameof(MixedTypes) => MixedTypes,
        nameof(AwkwardNames) => AwkwardNames,
        nameof(GlobalNamespace) => GlobalNamespace,
        nameof(TextRecognizer) => TextRecognizer,
        nameof(FashionCnnBatched) => FashionCnnBatched,
        nameof(Detector) => Detector,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>The item metadata each case is generated with.</summary>
    public static (string Name, string Value)[] MetadataOf(string name) => name switch
    {
        nameof(FashionCnnBatched) => [("ModelCompressionMaxBatchSize", "8")],
        nameof(Detector) => [("ModelCompressionMaxBatchSize", "4"), ("ModelCompressionMaxSizes", "H=640; W=960"), ("ModelCompressionEmbeddedResource", "")],
        EmbeddedFashionCnn => [("ModelCompressionEmbeddedResource", "ModelCompression.FashionClassifier.FashionCnn.onnx")],
        _ => [],
    };

    public static string PathOf(SidecarContent content) => $"/project/obj/{content.ClassName}.mcsig";

    public static Microsoft.CodeAnalysis.AdditionalText Text(SidecarContent content, params (string Name, string Value)[] metadata) =>
        GeneratorHarness.Sidecar(PathOf(content), SignatureSidecar.Write(content), metadata);

    /// <summary>The sidecar of a named case, with its metadata.</summary>
    public static Microsoft.CodeAnalysis.AdditionalText Text(string name) => Text(Get(name), MetadataOf(name));
}
