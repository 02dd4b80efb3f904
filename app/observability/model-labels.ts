/** The label for requests that named no model (`/v1/models`, `/v1/batch`, 401s…). */
export const NO_MODEL = 'none';
/** The label for every model past the bound, or one the upstream never accepted. */
export const OTHER_MODEL = 'other';

export interface ModelLabelOptions {
  /** Distinct model labels kept before the rest become `other`. @default 50 */
  max?: number;
  /** Longest model id used as a label. @default 100 */
  maxLength?: number;
}

/**
 * Keeps the `model` label bounded: a model becomes a label of its own the first time the upstream
 * answers it (a 2xx, or a cache hit, which implies an earlier 2xx), up to `max` distinct models;
 * everything else is `other`. Callers choose the model string, so a name the upstream refused
 * (`gpt-typo`) never takes a slot, and no caller can grow the label set without bound.
 */
export class ModelLabels {
  private readonly known = new Set<string>();
  private readonly max: number;
  private readonly maxLength: number;

  constructor(opts: ModelLabelOptions = {}) {
    this.max = opts.max ?? 50;
    this.maxLength = opts.maxLength ?? 100;
  }

  /** The label for `model`; `accepted` says whether the upstream served it on this request. */
  label(model: string | undefined, accepted: boolean): string {
    if (model === undefined) return NO_MODEL;
    if (this.known.has(model)) return model;
    if (!accepted || this.known.size >= this.max || model.length === 0 || model.length > this.maxLength) {
      return OTHER_MODEL;
    }
    this.known.add(model);
    return model;
  }

  get size(): number {
    return this.known.size;
  }
}
