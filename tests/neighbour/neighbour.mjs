// A neighbour on another stack: produce feedback to agent-learning with kafkajs, read what it publishes
// (updates and dead letters), and read every read model by its documented name with the official
// mongodb driver. Prints one JSON object with everything it saw; the Python test checks it.
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";

const env = process.env;
const topics = { feedback: env.TOPIC_FEEDBACK, updates: env.TOPIC_UPDATES, dlq: env.TOPIC_DLQ };
const agent = env.AGENT_ID;
const kafka = new Kafka({ clientId: "neighbour", brokers: [env.KAFKA], logLevel: logLevel.NOTHING });
const at = (minute) => `2026-11-24T10:${String(minute).padStart(2, "0")}:00Z`;

const readOnly = env.READ_ONLY === "1";  // only the read models (after a rebuild)
const messages = [
  { type: "agent_registered", eventId: `${agent}-r`, agentId: agent, occurredAt: at(0), archetype: "mentor", ownerId: "u-node" },
  ...[1, 2, 3, 4, 5].map((i) => ({
    type: "feedback", eventId: `${agent}-f${i}`, agentId: agent, occurredAt: at(i),
    kind: "thumbs_up", traits: { empathy: 1 }, action: "answer", userId: "u-42",
  })),
];
const seen = { updates: [], deadLetters: [] };
if (!readOnly) {
const producer = kafka.producer();
await producer.connect();
await producer.send({
  topic: topics.feedback,
  messages: [
    ...messages.map((m) => ({ key: agent, value: JSON.stringify(m) })),
    { key: agent, value: '{"type": "feedback", "eventId": ' },        // not JSON
    { key: agent, value: JSON.stringify({ ...messages[1], eventId: `${agent}-bad`, kind: "shrug" }) },
  ],
});
await producer.disconnect();

const consumer = kafka.consumer({
  groupId: `neighbour-${agent}`, sessionTimeout: 6000, heartbeatInterval: 1000, readUncommitted: false,
});
await consumer.connect();
await consumer.subscribe({ topics: [topics.updates, topics.dlq], fromBeginning: true });
const done = new Promise((resolve) => {
  consumer.run({
    eachMessage: async ({ topic, message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers || {}).map(([k, v]) => [k, v.toString()]));
      if (topic === topics.updates) {
        seen.updates.push({ key: message.key.toString(), headers, value: JSON.parse(message.value.toString()) });
      } else {
        seen.deadLetters.push({ key: message.key?.toString() ?? null, headers, value: message.value.toString() });
      }
      const learned = seen.updates.some((u) => u.value.type === "AgentLearningUpdated" && u.value.agentId === agent);
      if (learned && seen.deadLetters.length >= 2) resolve();
    },
  });
});
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(seen)}`)), 60000));
await Promise.race([done, timeout]);
await consumer.disconnect();
}

// The read models, by name, as the contract documents them.
const client = new MongoClient(env.MONGO_URL);
await client.connect();
const db = client.db(env.MONGO_DB);
const readModels = {};
for (const name of env.READ_MODELS.split(",")) {
  readModels[name] = await db.collection(name).find({}, { projection: { _id: 0 } }).toArray();
}
const keyed = await db.collection("agent_learning_state").findOne({ _id: agent });
await client.close();
console.log(JSON.stringify({ ...seen, readModels, stateById: keyed && keyed.agentId }));
process.exit(0);
