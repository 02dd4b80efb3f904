/**
 * Validates one Responses stream event against the schema of its own type: ResponseStreamEvent is
 * an anyOf of ~60 shapes, whose failure report lists every one of them.
 */
import { expectSchema } from './openapi';

const SCHEMA_BY_TYPE: Record<string, string> = {
  'response.created': 'ResponseCreatedEvent',
  'response.in_progress': 'ResponseInProgressEvent',
  'response.output_item.added': 'ResponseOutputItemAddedEvent',
  'response.output_item.done': 'ResponseOutputItemDoneEvent',
  'response.content_part.added': 'ResponseContentPartAddedEvent',
  'response.content_part.done': 'ResponseContentPartDoneEvent',
  'response.output_text.delta': 'ResponseTextDeltaEvent',
  'response.output_text.done': 'ResponseTextDoneEvent',
  'response.function_call_arguments.delta': 'ResponseFunctionCallArgumentsDeltaEvent',
  'response.function_call_arguments.done': 'ResponseFunctionCallArgumentsDoneEvent',
  'response.completed': 'ResponseCompletedEvent',
  'response.incomplete': 'ResponseIncompleteEvent',
  'response.failed': 'ResponseFailedEvent',
  error: 'ResponseErrorEvent',
};

export function expectResponseEvent(event: Record<string, unknown>): void {
  const name = SCHEMA_BY_TYPE[String(event.type)];
  if (!name) throw new Error(`unexpected Responses event type ${String(event.type)}`);
  expectSchema(name, event);
  expectSchema('ResponseStreamEvent', event);
}
