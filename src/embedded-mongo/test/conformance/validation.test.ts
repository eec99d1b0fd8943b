/**
 * Collection validators: `$jsonSchema` and query validators set by
 * createCollection and collMod, with validationLevel, validationAction and
 * bypassDocumentValidation, failing writes with 121 DocumentValidationFailure
 * and MongoDB 7's errInfo.
 */
import { describe, expect, it } from "vitest";
import type { Document, WriteError } from "mongodb";
import { expectBulkError, expectServerError, useConformanceDb, type TestDoc } from "../fixtures/conformance-database.ts";

const ctx = useConformanceDb("validation");

const studentSchema = {
  $jsonSchema: {
    bsonType: "object",
    required: ["name", "year"],
    properties: {
      name: { bsonType: "string", description: "must be a string" },
      year: { bsonType: "int", minimum: 2000 },
    },
  },
};

describe("$jsonSchema validators", () => {
  it("accept valid documents and refuse invalid inserts with 121 and MongoDB's errInfo", async () => {
    const { db } = ctx();
    await db.createCollection("students", { validator: studentSchema });
    const students = db.collection<TestDoc>("students");
    await students.insertOne({ _id: 1, name: "ann", year: 2001 });

    const missing = await expectServerError(students.insertOne({ _id: 2, name: "bob" }));
    expect(missing.code).toBe(121);
    expect(missing.codeName).toBe("DocumentValidationFailure");
    expect(missing.message).toBe("Document failed validation");
    expect(missing.errInfo).toEqual({
      failingDocumentId: 2,
      details: {
        operatorName: "$jsonSchema",
        schemaRulesNotSatisfied: [{ operatorName: "required", specifiedAs: { required: ["name", "year"] }, missingProperties: ["year"] }],
      },
    });

    const wrongType = await expectServerError(students.insertOne({ _id: 3, name: "cy", year: "2003" }));
    expect(wrongType.errInfo).toEqual({
      failingDocumentId: 3,
      details: {
        operatorName: "$jsonSchema",
        schemaRulesNotSatisfied: [
          {
            operatorName: "properties",
            propertiesNotSatisfied: [
              {
                propertyName: "year",
                details: [
                  {
                    operatorName: "bsonType",
                    specifiedAs: { bsonType: "int" },
                    reason: "type did not match",
                    consideredValue: "2003",
                    consideredType: "string",
                  },
                ],
              },
            ],
          },
        ],
      },
    });
    expect(await students.countDocuments()).toBe(1);
  });

  it("refuse updates, replacements, upserts and findOneAndUpdate that would make a document invalid", async () => {
    const { db } = ctx();
    await db.createCollection("students2", { validator: studentSchema });
    const students = db.collection<TestDoc>("students2");
    await students.insertOne({ _id: 1, name: "ann", year: 2001 });
    for (const attempt of [
      () => students.updateOne({ _id: 1 }, { $set: { year: 1999 } }),
      () => students.replaceOne({ _id: 1 }, { name: "ann" }),
      () => students.updateOne({ _id: 9 }, { $set: { name: "new" } }, { upsert: true }),
      () => students.findOneAndUpdate({ _id: 1 }, { $unset: { name: "" } }),
      () => students.updateOne({ _id: 1 }, [{ $set: { year: { $toString: "$year" } } }]),
    ]) {
      expect((await expectServerError(attempt())).code).toBe(121);
    }
    expect(await students.find().toArray()).toEqual([{ _id: 1, name: "ann", year: 2001 }]);
    // A no-op update writes nothing and so validates nothing; a valid one passes.
    expect((await students.updateOne({ _id: 1 }, { $set: { year: 2002 } })).modifiedCount).toBe(1);
  });

  it("report the failing document of an insertMany batch by index", async () => {
    const { db } = ctx();
    await db.createCollection("students3", { validator: studentSchema });
    const students = db.collection<TestDoc>("students3");
    const error = await expectBulkError(
      students.insertMany([
        { _id: 1, name: "a", year: 2001 },
        { _id: 2, name: "b" },
        { _id: 3, name: "c", year: 2003 },
      ]),
    );
    const writeErrors = ([] as WriteError[]).concat(error.writeErrors);
    expect(writeErrors.map((w) => [w.index, w.code])).toEqual([[1, 121]]);
    expect(await students.countDocuments()).toBe(1);
  });
});

describe("query validators, levels, actions and bypass", () => {
  it("a query validator refuses a document that does not match it", async () => {
    const { db } = ctx();
    await db.createCollection("orders", { validator: { qty: { $gt: 0 } } });
    const orders = db.collection<TestDoc>("orders");
    await orders.insertOne({ _id: 1, qty: 2 });
    const error = await expectServerError(orders.insertOne({ _id: 2, qty: 0 }));
    expect(error.code).toBe(121);
    expect(error.errInfo).toEqual({
      failingDocumentId: 2,
      details: { operatorName: "$gt", specifiedAs: { qty: { $gt: 0 } }, reason: "comparison failed", consideredValue: 0 },
    });
    const options = (await db.listCollections({ name: "orders" }).toArray())[0] as Document;
    expect(options["options"]).toEqual({ validator: { qty: { $gt: 0 } }, validationLevel: "strict", validationAction: "error" });
  });

  it("collMod adds a validator; moderate lets invalid documents be updated; warn and bypassDocumentValidation let writes through", async () => {
    const { db } = ctx();
    const items = db.collection<TestDoc>("items");
    await items.insertMany([
      { _id: 1, qty: 5 },
      { _id: 2, qty: -1 },
    ]);
    await db.command({ collMod: "items", validator: { qty: { $gte: 0 } }, validationLevel: "moderate" });
    // Already invalid: moderate does not check it. Valid: it must stay valid.
    await items.updateOne({ _id: 2 }, { $set: { note: "legacy" } });
    expect((await expectServerError(items.updateOne({ _id: 1 }, { $set: { qty: -5 } }))).code).toBe(121);
    expect((await expectServerError(items.insertOne({ _id: 3, qty: -2 }))).code).toBe(121);
    await items.insertOne({ _id: 4, qty: -3 }, { bypassDocumentValidation: true });
    await db.command({ collMod: "items", validationAction: "warn" });
    await items.insertOne({ _id: 5, qty: -4 });
    await db.command({ collMod: "items", validationAction: "error", validationLevel: "off" });
    await items.insertOne({ _id: 6, qty: -6 });
    expect((await items.find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2, 4, 5, 6]);
  });

  it("an invalid validation level is refused", async () => {
    const error = await expectServerError(ctx().db.createCollection("bad_level", { validator: { a: 1 }, validationLevel: "sometimes" }));
    expect(error.code).toBe(2);
  });
});
