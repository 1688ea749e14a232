declare module 'parse-prometheus-text-format' {
  export default function parse(text: string): Array<{ name: string; help: string; type: string; metrics: Array<{ value?: string; count?: string; labels?: Record<string, string> }> }>;
}
