namespace ModelCompression.WrapperBench;

public class DigitsMlpBenchmarks() : CorpusModelBenchmarks("digits-mlp", typeof(DigitsMlp));

public class FashionCnnBenchmarks() : CorpusModelBenchmarks("fashion-cnn", typeof(FashionCnn));

public class PpocrClsBenchmarks() : CorpusModelBenchmarks("ppocr-cls", typeof(PpocrCls));

public class PpocrRecBenchmarks() : CorpusModelBenchmarks("ppocr-rec", typeof(PpocrRec));

public class SileroVadBenchmarks() : CorpusModelBenchmarks("silero-vad", typeof(SileroVad));
