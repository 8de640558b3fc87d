using ModelCompression.Cli;

return CommandLine.Build().Parse(args).Invoke();
