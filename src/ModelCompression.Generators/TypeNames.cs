using System.Linq;
using Microsoft.CodeAnalysis.CSharp;

namespace ModelCompression.Generators;

/// <summary>Checks the ClassName and Namespace metadata; each method returns why a name is invalid, or null.</summary>
internal static class TypeNames
{
    public static string? ClassNameProblem(string name)
    {
        if (!IsIdentifier(name)) return "is not a valid C# identifier (letters, digits and '_', not starting with a digit, not a keyword)";
        // The compiler warns (CS8981) about such type names: they may become keywords, as 'record' did.
        if (name.All(c => c is >= 'a' and <= 'z')) return "has only lower-case ASCII letters, which C# reserves for future keywords (warning CS8981)";
        return null;
    }

    public static string? NamespaceProblem(string name)
    {
        if (name.Length == 0) return null; // the global namespace
        var parts = name.Split('.');
        if (parts[0] == "global") return "starts with 'global', which C# reserves for the global namespace alias";
        var bad = parts.FirstOrDefault(p => !IsIdentifier(p));
        return bad is null ? null : $"is not a valid C# namespace: '{bad}' is not a valid identifier (names separated by '.', each made of letters, digits and '_', not starting with a digit, not a keyword)";
    }

    private static bool IsIdentifier(string name) =>
        SyntaxFacts.IsValidIdentifier(name) && SyntaxFacts.GetKeywordKind(name) == SyntaxKind.None;
}
