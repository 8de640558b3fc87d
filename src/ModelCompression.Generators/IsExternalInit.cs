// Lets netstandard2.0 compile records and init-only setters (the type ships only with .NET 5+).
namespace System.Runtime.CompilerServices;

internal static class IsExternalInit { }
