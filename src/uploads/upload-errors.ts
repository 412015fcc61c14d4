import { DomainError } from '../shared/errors.js';

/** Where in the upload a problem is: data row (1-based, header not counted), file line, column. */
export interface UploadLocation {
  row?: number;
  line?: number;
  column?: string;
}

/** The upload cannot become a dataset (empty, ragged, a non-number where a number belongs, ...). */
export class MalformedUploadError extends DomainError {
  constructor(message: string, where: UploadLocation = {}) {
    const at = [
      where.row !== undefined ? `row ${where.row}` : '',
      where.line !== undefined ? `line ${where.line}` : '',
      where.column !== undefined ? `column ${JSON.stringify(where.column)}` : '',
    ].filter(Boolean);
    super(400, 'malformed_dataset', at.length > 0 ? `${at.join(', ')}: ${message}` : message, where);
  }
}

/** An upload option that does not fit the data (an unknown label column, a wrong inputShape, ...). */
export class InvalidUploadOptionError extends DomainError {
  constructor(option: string, message: string) {
    super(400, 'invalid_upload_option', message, [{ path: [option], message }]);
  }
}

/** Over a configured size limit (body bytes, decompressed bytes, rows, columns, classes). */
export class UploadTooLargeError extends DomainError {
  constructor(
    readonly limit: string,
    readonly max: number,
    message: string,
  ) {
    super(413, 'upload_too_large', `${message} (limit ${limit}=${max})`, { limit, max });
  }
}

export class UnsupportedUploadError extends DomainError {
  constructor(message: string) {
    super(415, 'unsupported_media_type', message);
  }
}

/** The request body ended early (the client disconnected); nothing was kept. */
export class UploadAbortedError extends DomainError {
  constructor() {
    super(400, 'upload_aborted', 'the upload ended before its body did; nothing was stored');
  }
}
