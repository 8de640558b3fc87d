using System.Text;

namespace ModelCompression.Build.Tasks;

/// <summary>The default wrapper class name of a model file: <c>fashion-cnn.onnx</c> → <c>FashionCnn</c>.</summary>
public static class ClassNames
{
    /// <summary>
    /// PascalCase of the file name without extension: every run of letters and digits starts a word
    /// whose first letter is upper-cased (the rest is kept, so <c>fashionCNN</c> stays <c>FashionCNN</c>).
    /// A leading digit gets an underscore, so the result is always a C# identifier.
    /// </summary>
    public static string FromFileName(string fileNameWithoutExtension)
    {
        var name = new StringBuilder(fileNameWithoutExtension.Length);
        var startOfWord = true;
        foreach (var c in fileNameWithoutExtension)
        {
            if (!char.IsLetterOrDigit(c))
            {
                startOfWord = true;
                continue;
            }
            name.Append(startOfWord ? char.ToUpperInvariant(c) : c);
            startOfWord = false;
        }
        if (name.Length == 0) return "Model";
        if (char.IsDigit(name[0])) name.Insert(0, '_');
        return name.ToString();
    }
}
