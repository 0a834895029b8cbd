interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Writes items in batches, one batch at a time: what arrives within `windowMs`, or while the
 * previous batch is being written, goes together. Under load many callers share one statement; a
 * caller alone waits only the window. Each caller's promise settles with its batch.
 */
export class BatchWriter<T> {
  private pending: Array<Pending<T>> = [];
  private scheduled = false;
  private writing: Promise<void> | undefined;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly options: { windowMs: number; maxBatch: number },
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Settles once everything added so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.scheduled || this.writing) await (this.writing ?? new Promise((resolve) => setTimeout(resolve, this.options.windowMs)));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => void this.drain(), this.options.windowMs);
  }

  private async drain(): Promise<void> {
    while (this.writing) await this.writing;
    this.scheduled = false;
    const batch = this.pending.splice(0, this.options.maxBatch);
    if (this.pending.length > 0) this.schedule();
    this.writing = this.write(batch.map((entry) => entry.item)).then(
      () => batch.forEach((entry) => entry.resolve()),
      (error: unknown) => batch.forEach((entry) => entry.reject(error)),
    );
    await this.writing;
    this.writing = undefined;
  }
}
