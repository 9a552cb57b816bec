using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Order;
using BenchmarkDotNet.Reports;

namespace FastLstm.Bench;

/// <summary>
/// Short runs (the naive twin takes seconds per call at the larger sizes), the memory diagnoser, medians, and
/// ratios against the naive baseline, on top of BenchmarkDotNet's defaults (loggers, exporters, validators).
/// </summary>
public static class BenchConfig
{
    public static IConfig Create() => DefaultConfig.Instance
        .AddJob(Job.ShortRun.WithWarmupCount(3).WithIterationCount(7))
        .AddDiagnoser(MemoryDiagnoser.Default)
        .AddColumn(StatisticColumn.Median)
        .WithSummaryStyle(SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend))
        .WithOrderer(new DefaultOrderer(SummaryOrderPolicy.Declared));
}
