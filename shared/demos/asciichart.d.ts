/** The part of asciichart (a package without its own types) that the demos use. */
declare module 'asciichart' {
  interface PlotConfig {
    height?: number;
    min?: number;
    max?: number;
    colors?: string[];
    format?: (value: number, index: number) => string;
  }
  const asciichart: {
    plot(series: number[] | number[][], config?: PlotConfig): string;
    red: string;
    green: string;
    reset: string;
  };
  export default asciichart;
}
