// A shopper's journey through the storefront API, written the way a front end would write
// it: one typed client from the generated `paths`, no casts, every result checked.
//
//   STOREFRONT_URL             the service's root (default http://127.0.0.1:8080)
//   STOREFRONT_ADMIN_LOGIN     an account already promoted with `storefront admin promote`
//   STOREFRONT_ADMIN_PASSWORD  its password
//
// Prints one line per step; on the first mismatch prints what was expected and what came,
// and exits 1.
import createClient from "openapi-fetch";
import { randomBytes, randomUUID } from "node:crypto";
import type { components, paths } from "./schema.js";

type Product = components["schemas"]["ProductResponse"];
type ProductPage = components["schemas"]["ProductPage"];
type Line = components["schemas"]["LineResponse"];
type Order = components["schemas"]["OrderResponse"];
type OrderPage = components["schemas"]["OrderPage"];
type Quote = components["schemas"]["QuoteResponse"];
type Payment = components["schemas"]["PaymentResponse"];
type AdminOrderQuery = NonNullable<paths["/api/v1/admin/orders"]["get"]["parameters"]["query"]>;

class JourneyFailure extends Error {}

let stepNumber = 0;

function fail(step: string, message: string): never {
    throw new JourneyFailure(`${step}: ${message}`);
}

function pass(step: string, detail: string): void {
    stepNumber += 1;
    console.log(`ok ${String(stepNumber).padStart(2, " ")}  ${step}: ${detail}`);
}

function check(step: string, condition: boolean, message: string): void {
    if (!condition) {
        fail(step, message);
    }
}

function equal<T>(step: string, what: string, actual: T, expected: T): void {
    if (actual !== expected) {
        fail(step, `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
}

/** The `code` of an RFC 9457 problem body, or a short rendering of whatever came instead. */
function describeError(error: unknown): string {
    if (typeof error === "object" && error !== null && "code" in error) {
        const detail = "detail" in error ? ` (${String(error.detail)})` : "";
        return `${String(error.code)}${detail}`;
    }
    return error === undefined ? "no body" : JSON.stringify(error);
}

function problemCode(error: unknown): string | undefined {
    if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
        return error.code;
    }
    return undefined;
}

/** What every openapi-fetch call resolves to: data on a 2xx, error otherwise. */
type Outcome<D, E> =
    | { data: D; error?: never; response: Response }
    | { data?: never; error: E; response: Response };

/** Expects `status` with a body; returns the typed body and the response (for headers). */
async function expectBody<D, E>(
    step: string,
    status: number,
    call: Promise<Outcome<D, E>>,
): Promise<{ body: NonNullable<D>; response: Response }> {
    const { data, error, response } = await call;
    if (response.status !== status) {
        fail(step, `expected HTTP ${status}, got ${response.status}: ${describeError(error)}`);
    }
    if (data === undefined || data === null) {
        fail(step, `HTTP ${status} without a body`);
    }
    return { body: data, response };
}

/** Expects `status` (a 204) and no body. */
async function expectEmpty<D, E>(step: string, status: number, call: Promise<Outcome<D, E>>): Promise<Response> {
    const { error, response } = await call;
    if (response.status !== status) {
        fail(step, `expected HTTP ${status}, got ${response.status}: ${describeError(error)}`);
    }
    return response;
}

/** Expects an error `status` whose problem+json body carries `code`. */
async function expectProblem<D, E>(
    step: string,
    status: number,
    code: string,
    call: Promise<Outcome<D, E>>,
): Promise<Response> {
    const { error, response } = await call;
    if (response.status !== status) {
        fail(step, `expected HTTP ${status} ${code}, got ${response.status}: ${describeError(error)}`);
    }
    equal(step, "problem code", problemCode(error), code);
    const contentType = response.headers.get("content-type") ?? "";
    check(step, contentType.startsWith("application/problem+json"), `content-type ${contentType}`);
    return response;
}

// Money is exact decimal strings; compare it in cents, never through a float.
function cents(step: string, amount: string): bigint {
    const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(amount);
    if (match === null || match[1] === undefined) {
        return fail(step, `not a decimal amount: ${JSON.stringify(amount)}`);
    }
    return BigInt(match[1]) * 100n + BigInt((match[2] ?? "0").padEnd(2, "0"));
}

/** `numerator / denominator` cents, rounded half-up: how the service rounds tax. */
function halfUp(numerator: bigint, denominator: bigint): bigint {
    return (2n * numerator + denominator) / (2n * denominator);
}

function money(amount: bigint): string {
    return `${amount / 100n}.${String(amount % 100n).padStart(2, "0")}`;
}

/** The line of `productId` in a cart or an order. */
function lineFor(step: string, cart: { id: number; items: Line[] }, productId: number): Line {
    const line = cart.items.find((item) => item.product_id === productId);
    if (line === undefined) {
        return fail(step, `no line for product ${productId} in cart ${cart.id}`);
    }
    return line;
}

function letters(count: number): string {
    return Array.from(randomBytes(count), (byte) => String.fromCharCode(97 + (byte % 26))).join("");
}

function requiredEnv(name: string): string {
    const value = process.env[name];
    if (value === undefined || value === "") {
        throw new JourneyFailure(`set ${name} (an account promoted with \`storefront admin promote\`)`);
    }
    return value;
}

const baseUrl = process.env["STOREFRONT_URL"] ?? "http://127.0.0.1:8080";

async function journey(): Promise<void> {
    const adminLogin = requiredEnv("STOREFRONT_ADMIN_LOGIN");
    const adminPassword = requiredEnv("STOREFRONT_ADMIN_PASSWORD");

    // One word no other product contains, so searches see only this run's products even
    // on a shared server.
    const tag = `j${letters(11)}`;
    const anonymous = createClient<paths>({ baseUrl });
    const withToken = (token: string) =>
        createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });

    // --- accounts ---------------------------------------------------------------------
    let step = "register a shopper (POST /users)";
    const username = `shopper_${tag}`;
    const password = "correct horse battery";
    const registered = await expectBody(
        step,
        201,
        anonymous.POST("/api/v1/users", { body: { username, email: `${tag}@example.com`, password } }),
    );
    equal(step, "username", registered.body.username, username);
    equal(step, "is_admin", registered.body.is_admin, false);
    equal(step, "Location", registered.response.headers.get("location"), "/api/v1/users/me");
    pass(step, `201, user ${registered.body.id} ${registered.body.username}`);

    step = "log the shopper in by email (POST /sessions)";
    const session = await expectBody(
        step,
        200,
        anonymous.POST("/api/v1/sessions", { body: { login: `${tag}@example.com`, password } }),
    );
    equal(step, "token_type", session.body.token_type, "Bearer");
    equal(step, "user.id", session.body.user.id, registered.body.id);
    check(step, session.body.token.length > 0, "empty token");
    check(step, Date.parse(session.body.expires_at) > Date.now(), `expires_at ${session.body.expires_at} not in the future`);
    const shopper = withToken(session.body.token);
    pass(step, `200, Bearer token until ${session.body.expires_at}`);

    step = "read the own profile (GET /users/me)";
    const me = await expectBody(step, 200, shopper.GET("/api/v1/users/me"));
    equal(step, "username", me.body.username, username);
    pass(step, `200, ${me.body.username} <${me.body.email}>`);

    step = "log the admin in (POST /sessions)";
    const adminSession = await expectBody(
        step,
        200,
        anonymous.POST("/api/v1/sessions", { body: { login: adminLogin, password: adminPassword } }),
    );
    check(step, adminSession.body.user.is_admin, `${adminLogin} is not an admin: run \`storefront admin promote ${adminLogin}\``);
    const admin = withToken(adminSession.body.token);
    pass(step, `200, ${adminSession.body.user.username} is_admin`);

    // --- catalogue --------------------------------------------------------------------
    step = "a shopper cannot create products (POST /products)";
    await expectProblem(
        step,
        403,
        "forbidden",
        shopper.POST("/api/v1/products", { body: { name: `Forbidden ${tag}`, price: "1.00" } }),
    );
    pass(step, "403 forbidden");

    const wanted = [
        { name: `Blue teapot ${tag}`, description: "Porcelain, one litre", price: "19.90", inventory_count: 10 },
        { name: `Enamel mug ${tag}`, description: null, price: "4.50", inventory_count: 50 },
        { name: `Copper kettle ${tag}`, description: "Whistles", price: "34.00", inventory_count: 3 },
    ];
    const created: Product[] = [];
    for (const product of wanted) {
        step = `admin creates "${product.name}" (POST /products)`;
        const made = await expectBody(step, 201, admin.POST("/api/v1/products", { body: product }));
        equal(step, "name", made.body.name, product.name);
        equal(step, "price", made.body.price, product.price);
        equal(step, "inventory_count", made.body.inventory_count, product.inventory_count);
        equal(step, "Location", made.response.headers.get("location"), `/api/v1/products/${made.body.id}`);
        created.push(made.body);
        pass(step, `201, product ${made.body.id} at ${made.body.price}`);
    }
    const [teapot, mug, kettle] = created;
    if (teapot === undefined || mug === undefined || kettle === undefined) {
        return fail("create products", `made ${created.length} of 3`);
    }

    step = "read one product (GET /products/{id})";
    const one = await expectBody(
        step,
        200,
        anonymous.GET("/api/v1/products/{id}", { params: { path: { id: teapot.id } } }),
    );
    equal(step, "name", one.body.name, teapot.name);
    equal(step, "description", one.body.description, "Porcelain, one litre");
    equal(step, "lowest_price_30d (price never changed)", one.body.lowest_price_30d, teapot.price);
    pass(step, `200, ${one.body.name}`);

    step = "search (GET /products?q=...)";
    const found = await expectBody(
        step,
        200,
        anonymous.GET("/api/v1/products", { params: { query: { q: `teapot ${tag}` } } }),
    );
    equal(step, "hits", found.body.items.map((p) => p.id).join(","), String(teapot.id));
    equal(step, "next_cursor", found.body.next_cursor ?? null, null);
    pass(step, `200, "teapot ${tag}" finds only product ${teapot.id}`);

    step = "page through the catalogue (GET /products?sort=price_asc&limit=2&cursor=...)";
    // What a "load more" button does: ask again with the last page's next_cursor.
    const pageAfter = async (cursor: string | null): Promise<ProductPage> =>
        (
            await expectBody(
                step,
                200,
                anonymous.GET("/api/v1/products", {
                    params: {
                        query: { q: tag, sort: "price_asc", limit: 2, ...(cursor === null ? {} : { cursor }) },
                    },
                }),
            )
        ).body;
    const seen: Product[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
        pages += 1;
        check(step, pages <= 10, "more than 10 pages for 3 products: next_cursor never ends");
        const page = await pageAfter(cursor);
        check(step, page.items.length <= 2, `page ${pages} has ${page.items.length} items (limit 2)`);
        seen.push(...page.items);
        cursor = page.next_cursor ?? null;
    } while (cursor !== null);
    const expectedOrder = [mug, teapot, kettle].map((p) => p.id).join(",");
    equal(step, "ids in price order", seen.map((p) => p.id).join(","), expectedOrder);
    check(step, pages >= 2, `3 products at limit 2 came in ${pages} page(s)`);
    pass(step, `${pages} pages, ${seen.length} products, cheapest first`);

    // --- cart -------------------------------------------------------------------------
    step = "add 2 teapots to the cart (POST /cart/items)";
    let cart = (await expectBody(step, 201, shopper.POST("/api/v1/cart/items", { body: { product_id: teapot.id, quantity: 2 } }))).body;
    equal(step, "status", cart.status, "open");
    equal(step, "teapot quantity", lineFor(step, cart, teapot.id).quantity, 2);
    pass(step, `201, cart ${cart.id}, ${cart.item_count} items, total ${cart.total}`);

    step = "add a mug (POST /cart/items)";
    cart = (await expectBody(step, 201, shopper.POST("/api/v1/cart/items", { body: { product_id: mug.id, quantity: 1 } }))).body;
    equal(step, "lines", cart.items.length, 2);
    pass(step, `201, ${cart.items.length} lines, total ${cart.total}`);

    step = "add 1 more teapot: the line adds up (POST /cart/items)";
    cart = (await expectBody(step, 201, shopper.POST("/api/v1/cart/items", { body: { product_id: teapot.id, quantity: 1 } }))).body;
    equal(step, "lines", cart.items.length, 2);
    const teapotLine = lineFor(step, cart, teapot.id);
    equal(step, "teapot quantity", teapotLine.quantity, 3);
    pass(step, `201, teapot line ${teapotLine.id} now quantity ${teapotLine.quantity}`);

    step = "set the teapot line to 2 (PATCH /cart/items/{item_id})";
    cart = (
        await expectBody(
            step,
            200,
            shopper.PATCH("/api/v1/cart/items/{item_id}", {
                params: { path: { item_id: teapotLine.id } },
                body: { quantity: 2 },
            }),
        )
    ).body;
    equal(step, "teapot quantity", lineFor(step, cart, teapot.id).quantity, 2);
    pass(step, `200, total ${cart.total}`);

    step = "remove the mug line (DELETE /cart/items/{item_id})";
    const mugLine = lineFor(step, cart, mug.id);
    await expectEmpty(
        step,
        204,
        shopper.DELETE("/api/v1/cart/items/{item_id}", { params: { path: { item_id: mugLine.id } } }),
    );
    pass(step, `204, line ${mugLine.id} gone`);

    step = "add a kettle (POST /cart/items)";
    cart = (await expectBody(step, 201, shopper.POST("/api/v1/cart/items", { body: { product_id: kettle.id, quantity: 1 } }))).body;
    pass(step, `201, ${cart.items.length} lines`);

    step = "read the cart (GET /cart)";
    cart = (await expectBody(step, 200, shopper.GET("/api/v1/cart"))).body;
    const expectedTotal = cents(step, teapot.price) * 2n + cents(step, kettle.price);
    equal(step, "lines (product:quantity)", cart.items.map((l) => `${l.product_id}:${l.quantity}`).sort().join(","),
        [`${teapot.id}:2`, `${kettle.id}:1`].sort().join(","));
    equal(step, "item_count", cart.item_count, 3);
    equal(step, "total in cents", cents(step, cart.total), expectedTotal);
    for (const line of cart.items) {
        check(step, line.available, `line ${line.id} not available`);
        equal(step, `line ${line.id} total in cents`, cents(step, line.line_total), cents(step, line.unit_price) * BigInt(line.quantity));
    }
    const openCartId = cart.id;
    pass(step, `200, ${cart.item_count} items, total ${cart.total}`);

    // --- checkout ---------------------------------------------------------------------
    const idempotencyKey = `journey-${randomUUID()}`;
    step = "check out with an Idempotency-Key (POST /cart/checkout)";
    const placed = await expectBody(
        step,
        201,
        shopper.POST("/api/v1/cart/checkout", { params: { header: { "Idempotency-Key": idempotencyKey } } }),
    );
    const order = placed.body;
    equal(step, "status", order.status, "checked_out");
    equal(step, "order id (the cart's)", order.id, openCartId);
    equal(step, "total in cents", cents(step, order.total), expectedTotal);
    check(step, typeof order.checked_out_at === "string", "checked_out_at missing");
    equal(step, "Location", placed.response.headers.get("location"), `/api/v1/orders/${order.id}`);
    check(step, placed.response.headers.get("idempotent-replayed") !== "true", "first checkout marked as replayed");
    pass(step, `201, order ${order.id}, total ${order.total}`);

    step = "retry the checkout with the same key (POST /cart/checkout)";
    const replayed = await expectBody(
        step,
        201,
        shopper.POST("/api/v1/cart/checkout", { params: { header: { "Idempotency-Key": idempotencyKey } } }),
    );
    equal(step, "Idempotent-Replayed", replayed.response.headers.get("idempotent-replayed"), "true");
    equal(step, "order id", replayed.body.id, order.id);
    equal(step, "total", replayed.body.total, order.total);
    pass(step, `201, Idempotent-Replayed: true, same order ${replayed.body.id}`);

    step = "stock went down once (GET /products/{id})";
    const bought: { product: Product; quantity: number }[] = [
        { product: teapot, quantity: 2 },
        { product: kettle, quantity: 1 },
    ];
    for (const { product, quantity } of bought) {
        const now = await expectBody(step, 200, anonymous.GET("/api/v1/products/{id}", { params: { path: { id: product.id } } }));
        equal(step, `${product.name} inventory_count`, now.body.inventory_count, product.inventory_count - quantity);
    }
    pass(step, `teapot ${teapot.inventory_count} -> ${teapot.inventory_count - 2}, kettle ${kettle.inventory_count} -> ${kettle.inventory_count - 1}`);

    step = "a fresh, empty cart after checkout (GET /cart)";
    const fresh = (await expectBody(step, 200, shopper.GET("/api/v1/cart"))).body;
    check(step, fresh.id !== order.id, `still cart ${fresh.id}`);
    equal(step, "status", fresh.status, "open");
    equal(step, "item_count", fresh.item_count, 0);
    pass(step, `200, cart ${fresh.id}, empty`);

    // --- orders -----------------------------------------------------------------------
    step = "list orders (GET /orders)";
    const orders = await expectBody(step, 200, shopper.GET("/api/v1/orders", { params: { query: { limit: 20 } } }));
    equal(step, "order ids", orders.body.items.map((o) => o.id).join(","), String(order.id));
    equal(step, "next_cursor", orders.body.next_cursor ?? null, null);
    pass(step, `200, ${orders.body.items.length} order(s)`);

    step = "read the order (GET /orders/{id})";
    const read = await expectBody(step, 200, shopper.GET("/api/v1/orders/{id}", { params: { path: { id: order.id } } }));
    equal(step, "status", read.body.status, "checked_out");
    equal(step, "payment_status", read.body.payment_status, "awaiting_payment");
    equal(step, "fulfilment_status", read.body.fulfilment_status, "unfulfilled");
    equal(step, "total", read.body.total, order.total);
    equal(step, "teapot unit_price (frozen)", lineFor(step, read.body, teapot.id).unit_price, teapot.price);
    // Null when the service runs without a payment window (ORDER_PAYMENT_WINDOW_SECS=0).
    const dueAt = read.body.payment_due_at;
    check(step, dueAt === null || Date.parse(dueAt) > Date.parse(read.body.checked_out_at ?? ""),
        `payment_due_at ${String(dueAt)} not after checked_out_at ${String(read.body.checked_out_at)}`);
    equal(step, "cancelled_at", read.body.cancelled_at, null);
    pass(step, `200, order ${read.body.id}: ${read.body.items.length} lines, total ${read.body.total}, `
        + `awaiting_payment until ${dueAt ?? "(no deadline)"}`);

    step = "an unpaid order cannot ship (POST /orders/{id}/fulfilments)";
    await expectProblem(
        step,
        409,
        "invalid_state",
        admin.POST("/api/v1/orders/{id}/fulfilments", {
            params: { path: { id: order.id } },
            body: { carrier: "DHL", tracking_number: `JD${tag}` },
        }),
    );
    pass(step, "409 invalid_state");

    step = "the admin reads the teapot's history (GET /products/{id}/history)";
    const history = await expectBody(
        step,
        200,
        admin.GET("/api/v1/products/{id}/history", { params: { path: { id: teapot.id }, query: { limit: 20 } } }),
    );
    const [sold, opened] = history.body.items;
    if (sold?.kind !== "stock" || opened?.kind !== "stock") {
        return fail(step, `expected two stock movements, got ${JSON.stringify(history.body.items)}`);
    }
    equal(step, "newest reason", sold.reason, "checkout");
    equal(step, "newest delta", sold.delta, -2);
    equal(step, "newest order_id", sold.order_id, order.id);
    equal(step, "opening delta", opened.delta, teapot.inventory_count);
    equal(step, "entries", history.body.items.length, 2);
    pass(step, `200, created +${opened.delta}, checkout ${sold.delta} (order ${sold.order_id})`);

    // --- guest cart, merged at login ---------------------------------------------------
    step = "a guest creates a cart (POST /guest-carts)";
    const guestCart = await expectBody(step, 201, anonymous.POST("/api/v1/guest-carts"));
    check(step, guestCart.body.token.length === 43, `token of ${guestCart.body.token.length} characters`);
    check(step, Date.parse(guestCart.body.expires_at) > Date.now(), `expires_at ${guestCart.body.expires_at} not in the future`);
    equal(step, "items", guestCart.body.cart.items.length, 0);
    // The cart token is a typed header parameter of each cart operation.
    const asGuest = { header: { "X-Cart-Token": guestCart.body.token } };
    pass(step, `201, cart ${guestCart.body.cart.id} until ${guestCart.body.expires_at}`);

    step = "the guest adds 2 mugs with X-Cart-Token (POST /cart/items)";
    const guestLines = (await expectBody(step, 201, anonymous.POST("/api/v1/cart/items", { params: asGuest, body: { product_id: mug.id, quantity: 2 } }))).body;
    equal(step, "cart id", guestLines.id, guestCart.body.cart.id);
    equal(step, "mug quantity", lineFor(step, guestLines, mug.id).quantity, 2);
    pass(step, `201, total ${guestLines.total}`);

    step = "a guest cannot check out (POST /cart/checkout)";
    // Checkout does not take the parameter (it needs an account); sent anyway, the answer
    // says to log in.
    await expectProblem(
        step,
        401,
        "login_required",
        anonymous.POST("/api/v1/cart/checkout", { headers: { "X-Cart-Token": guestCart.body.token } }),
    );
    pass(step, "401 login_required: log in first");

    step = "log in with the cart token: the guest cart is merged (POST /sessions)";
    const mergedSession = await expectBody(
        step,
        200,
        anonymous.POST("/api/v1/sessions", {
            body: { login: username, password },
            params: { header: { "X-Cart-Token": guestCart.body.token } },
        }),
    );
    const merge = mergedSession.body.cart_merge;
    if (merge === null || merge === undefined) {
        return fail(step, "cart_merge is null");
    }
    equal(step, "merged_lines", merge.merged_lines, 1);
    equal(step, "capped", merge.capped.length, 0);
    equal(step, "dropped", merge.dropped.length, 0);
    const mergedShopper = withToken(mergedSession.body.token);
    const mergedCart = (await expectBody(step, 200, mergedShopper.GET("/api/v1/cart"))).body;
    equal(step, "mug quantity in the shopper's cart", lineFor(step, mergedCart, mug.id).quantity, 2);
    pass(step, `200, cart_merge merged ${merge.merged_lines} line into cart ${mergedCart.id}`);

    step = "the merged cart token is refused (GET /cart)";
    await expectProblem(step, 401, "cart_token_invalid", anonymous.GET("/api/v1/cart", { params: asGuest }));
    pass(step, "401 cart_token_invalid");

    // --- a second order, cancelled ------------------------------------------------------
    step = "check out the merged cart: a second order (POST /cart/checkout)";
    const second = (await expectBody(step, 201, mergedShopper.POST("/api/v1/cart/checkout"))).body;
    equal(step, "payment_status", second.payment_status, "awaiting_payment");
    equal(step, "mug quantity", lineFor(step, second, mug.id).quantity, 2);
    const mugsLeft = async (): Promise<number> =>
        (await expectBody(step, 200, anonymous.GET("/api/v1/products/{id}", { params: { path: { id: mug.id } } })))
            .body.inventory_count;
    equal(step, "mug inventory_count", await mugsLeft(), mug.inventory_count - 2);
    pass(step, `201, order ${second.id}, mugs ${mug.inventory_count} -> ${mug.inventory_count - 2}`);

    step = "the shopper cancels it (POST /orders/{id}/cancel)";
    const reason = "Ordered the wrong colour";
    const cancelled = (
        await expectBody(
            step,
            200,
            mergedShopper.POST("/api/v1/orders/{id}/cancel", { params: { path: { id: second.id } }, body: { reason } }),
        )
    ).body;
    equal(step, "status", cancelled.status, "cancelled");
    equal(step, "payment_status", cancelled.payment_status, "voided");
    equal(step, "cancel_reason", cancelled.cancel_reason, reason);
    equal(step, "payment_due_at", cancelled.payment_due_at, null);
    check(step, typeof cancelled.cancelled_at === "string", "cancelled_at missing");
    pass(step, `200, order ${cancelled.id} cancelled at ${String(cancelled.cancelled_at)}`);

    step = "its stock is back (GET /products/{id}, GET /products/{id}/history)";
    equal(step, "mug inventory_count", await mugsLeft(), mug.inventory_count);
    const mugHistory = await expectBody(
        step,
        200,
        admin.GET("/api/v1/products/{id}/history", { params: { path: { id: mug.id }, query: { limit: 20 } } }),
    );
    const [released] = mugHistory.body.items;
    if (released?.kind !== "stock") {
        return fail(step, `expected a stock movement first, got ${JSON.stringify(mugHistory.body.items)}`);
    }
    equal(step, "newest reason", released.reason, "release");
    equal(step, "newest delta", released.delta, 2);
    equal(step, "newest order_id", released.order_id, second.id);
    pass(step, `mugs ${mug.inventory_count - 2} -> ${mug.inventory_count}, release +${released.delta} (order ${second.id})`);

    step = "a cancelled order cannot be cancelled again (POST /orders/{id}/cancel)";
    await expectProblem(
        step,
        409,
        "invalid_state",
        mergedShopper.POST("/api/v1/orders/{id}/cancel", { params: { path: { id: second.id } } }),
    );
    pass(step, "409 invalid_state");

    step = "a shopper cannot list everyone's orders (GET /admin/orders)";
    await expectProblem(step, 403, "forbidden", mergedShopper.GET("/api/v1/admin/orders"));
    pass(step, "403 forbidden");

    // Every customer's orders, newest first; on a shared server others' come too.
    const adminOrders = async (query: AdminOrderQuery): Promise<Order[]> => {
        const found: Order[] = [];
        let next: string | null = null;
        for (let page = 1; page <= 20; page += 1) {
            const got: OrderPage = (
                await expectBody(step, 200, admin.GET("/api/v1/admin/orders", {
                    params: { query: { ...query, limit: 100, ...(next === null ? {} : { cursor: next }) } },
                }))
            ).body;
            found.push(...got.items);
            next = got.next_cursor ?? null;
            if (next === null || [order.id, second.id].every((id) => found.some((o) => o.id === id))) {
                break;
            }
        }
        return found;
    };

    step = "the admin lists cancelled orders (GET /admin/orders?status=cancelled)";
    const cancelledOrders = await adminOrders({ status: "cancelled" });
    check(step, cancelledOrders.every((o) => o.status === "cancelled"),
        `not all cancelled: ${cancelledOrders.map((o) => `${o.id}:${o.status}`).join(",")}`);
    const listed = cancelledOrders.find((o) => o.id === second.id);
    check(step, listed !== undefined, `order ${second.id} not listed`);
    equal(step, "its cancel_reason", listed?.cancel_reason, reason);
    check(step, !cancelledOrders.some((o) => o.id === order.id), `the unpaid order ${order.id} is listed as cancelled`);
    pass(step, `200, ${cancelledOrders.length} order(s), among them ${second.id}, not ${order.id}`);

    step = "the admin lists orders awaiting payment (GET /admin/orders?payment_status=awaiting_payment)";
    const unpaid = await adminOrders({ payment_status: "awaiting_payment", fulfilment_status: "unfulfilled" });
    check(step, unpaid.every((o) => o.payment_status === "awaiting_payment" && o.fulfilment_status === "unfulfilled"),
        `filters not applied: ${unpaid.map((o) => `${o.id}:${o.payment_status}/${o.fulfilment_status}`).join(",")}`);
    check(step, unpaid.some((o) => o.id === order.id), `order ${order.id} not listed`);
    check(step, !unpaid.some((o) => o.id === second.id), `the cancelled order ${second.id} is listed`);
    pass(step, `200, ${unpaid.length} order(s), among them ${order.id}, not ${second.id}`);

    // --- checkout totals: addresses, shipping methods, tax ------------------------------
    step = "the admin sets Germany's tax rate (POST /tax-rates)";
    const rate = (await expectBody(step, 201, admin.POST("/api/v1/tax-rates", { body: { country: "DE", rate: "19" } }))).body;
    equal(step, "rate", rate.rate, "19.00");
    pass(step, `201, DE ${rate.rate} %`);

    step = "the admin adds a shipping method (POST /shipping-methods)";
    const parcel = (
        await expectBody(step, 201, admin.POST("/api/v1/shipping-methods", {
            body: { name: "Journey Parcel", price: "4.90", countries: ["DE", "AT"], free_over: null },
        }))
    ).body;
    equal(step, "countries", parcel.countries.join(","), "DE,AT");
    pass(step, `201, method ${parcel.id}, ${parcel.price}`);

    step = "the methods that ship to Germany (GET /shipping-methods?country=DE)";
    const toGermany = (await expectBody(step, 200, anonymous.GET("/api/v1/shipping-methods", { params: { query: { country: "DE" } } }))).body;
    check(step, toGermany.items.some((method) => method.id === parcel.id), `method ${parcel.id} not listed`);
    pass(step, `200, ${toGermany.items.length} method(s)`);

    step = "the shopper saves an address (POST /users/me/addresses)";
    const home = (
        await expectBody(step, 201, shopper.POST("/api/v1/users/me/addresses", {
            body: { name: "Erika Mustermann", line1: "Heidestraße 17", city: "Köln", postal_code: "51147", country: "DE" },
        }))
    ).body;
    equal(step, "is_default (the first address)", home.is_default, true);
    pass(step, `201, address ${home.id}`);

    step = "three mugs in the cart, then a quote (POST /cart/quote)";
    await expectBody(step, 201, shopper.POST("/api/v1/cart/items", { body: { product_id: mug.id, quantity: 3 } }));
    const quote: Quote = (
        await expectBody(step, 200, shopper.POST("/api/v1/cart/quote", { body: { address_id: home.id, shipping_method_id: parcel.id } }))
    ).body;
    const lineCents = cents(step, mug.price) * 3n;
    // Prices include tax (the default): the line's tax is the part 19/119 of it, half-up.
    const taxCents = halfUp(lineCents * 19n, 119n);
    equal(step, "subtotal", quote.subtotal, money(lineCents));
    equal(step, "shipping", quote.shipping, "4.90");
    equal(step, "tax", quote.tax, money(taxCents));
    equal(step, "total", quote.total, money(lineCents + 490n));
    equal(step, "prices_include_tax", quote.prices_include_tax, true);
    pass(step, `200, ${quote.subtotal} + ${quote.shipping} shipping = ${quote.total}, of which tax ${quote.tax}`);

    step = "a method that does not ship to France (POST /cart/quote)";
    await expectProblem(step, 422, "validation_failed", shopper.POST("/api/v1/cart/quote", {
        body: { shipping_address: { name: "Jean", line1: "1 rue de la Paix", city: "Paris", country: "FR" }, shipping_method_id: parcel.id },
    }));
    pass(step, "422 validation_failed");

    step = "check out what the quote said (POST /cart/checkout, expected_total)";
    const shipped = (
        await expectBody(step, 201, shopper.POST("/api/v1/cart/checkout", {
            body: { address_id: home.id, shipping_method_id: parcel.id, expected_total: quote.total },
        }))
    ).body;
    equal(step, "total", shipped.total, quote.total);
    equal(step, "tax", shipped.tax, quote.tax);
    equal(step, "shipping_address.city", shipped.shipping_address?.city, "Köln");
    equal(step, "shipping_method.name", shipped.shipping_method?.name, "Journey Parcel");
    equal(step, "line tax", lineFor(step, shipped, mug.id).tax, money(taxCents));
    pass(step, `201, order ${shipped.id}, total ${shipped.total}`);

    step = "editing the saved address leaves the order's copy (PATCH /users/me/addresses/{id})";
    await expectBody(step, 200, shopper.PATCH("/api/v1/users/me/addresses/{id}", { params: { path: { id: home.id } }, body: { city: "Bonn" } }));
    const reread = (await expectBody(step, 200, shopper.GET("/api/v1/orders/{id}", { params: { path: { id: shipped.id } } }))).body;
    equal(step, "the order's city", reread.shipping_address?.city, "Köln");
    pass(step, "200, the order still ships to Köln");

    // --- paying the order ---------------------------------------------------------------
    step = "start paying the order (POST /orders/{id}/payments)";
    const payment: Payment = (
        await expectBody(step, 201, shopper.POST("/api/v1/orders/{id}/payments", {
            params: { path: { id: shipped.id } },
            body: { provider: "test" },
        }))
    ).body;
    equal(step, "amount", payment.amount, shipped.total);
    equal(step, "status", payment.status, "pending");
    const confirmUrl = payment.next_action?.url;
    if (confirmUrl === undefined) {
        return fail(step, "no next_action");
    }
    pass(step, `201, payment ${payment.id} of ${payment.amount} ${payment.currency}`);

    step = "the shopper confirms at the gateway (POST next_action.url)";
    const confirmed = await fetch(confirmUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ client_secret: payment.client_secret, payment_method: "pm_ok" }),
    });
    equal(step, "HTTP status", confirmed.status, 200);
    const confirmation: unknown = await confirmed.json();
    check(step, typeof confirmation === "object" && confirmation !== null && "status" in confirmation
        && confirmation.status === "succeeded", `answer ${JSON.stringify(confirmation)}`);
    pass(step, "200, succeeded");

    step = "back from the gateway (POST /orders/{id}/payments/{payment_id}/complete)";
    const paid = (
        await expectBody(step, 200, shopper.POST("/api/v1/orders/{id}/payments/{payment_id}/complete", {
            params: { path: { id: shipped.id, payment_id: payment.id } },
        }))
    ).body;
    equal(step, "payment_status", paid.payment_status, "paid");
    equal(step, "payment_due_at", paid.payment_due_at, null);
    equal(step, "the payment's status", paid.payments[0]?.status, "succeeded");
    pass(step, `200, order ${paid.id} paid`);

    step = "a paid order takes no second payment (POST /orders/{id}/payments)";
    await expectProblem(step, 409, "invalid_state", shopper.POST("/api/v1/orders/{id}/payments", {
        params: { path: { id: shipped.id } },
        body: { provider: "test" },
    }));
    pass(step, "409 invalid_state");

    step = "the admin refunds part of it (POST /orders/{id}/refunds)";
    const refundKey = randomUUID();
    const refunded = (
        await expectBody(step, 201, admin.POST("/api/v1/orders/{id}/refunds", {
            params: { path: { id: shipped.id }, header: { "Idempotency-Key": refundKey } },
            body: { amount: "1.00", reason: "A chipped mug" },
        }))
    ).body;
    equal(step, "payment_status", refunded.payment_status, "partially_refunded");
    equal(step, "refund amount", refunded.refunds[0]?.amount, "1.00");
    equal(step, "refund status", refunded.refunds[0]?.status, "succeeded");
    pass(step, `201, refund ${String(refunded.refunds[0]?.id)} of 1.00`);

    step = "the same refund retried refunds once (Idempotency-Key)";
    const again = await expectBody(step, 201, admin.POST("/api/v1/orders/{id}/refunds", {
        params: { path: { id: shipped.id }, header: { "Idempotency-Key": refundKey } },
        body: { amount: "1.00", reason: "A chipped mug" },
    }));
    equal(step, "Idempotent-Replayed", again.response.headers.get("idempotent-replayed"), "true");
    equal(step, "refunds", again.body.refunds.length, 1);
    pass(step, "201, replayed, one refund");

    step = "the admin ships the paid order (POST /orders/{id}/fulfilments)";
    const sent = (
        await expectBody(step, 201, admin.POST("/api/v1/orders/{id}/fulfilments", {
            params: { path: { id: shipped.id } },
            body: { carrier: "DHL", tracking_number: `JD${tag}P` },
        }))
    ).body;
    equal(step, "status", sent.status, "completed");
    equal(step, "fulfilment_status", sent.fulfilment_status, "fulfilled");
    pass(step, `201, order ${sent.id} completed`);

    step = "tidy up: the method, the rate and the address go (DELETE)";
    await expectEmpty(step, 204, admin.DELETE("/api/v1/shipping-methods/{id}", { params: { path: { id: parcel.id } } }));
    await expectEmpty(step, 204, admin.DELETE("/api/v1/tax-rates/{country}", { params: { path: { country: "DE" } } }));
    await expectEmpty(step, 204, shopper.DELETE("/api/v1/users/me/addresses/{id}", { params: { path: { id: home.id } } }));
    pass(step, "204 × 3");

    step = "log the merged session out (DELETE /sessions/current)";
    await expectEmpty(step, 204, mergedShopper.DELETE("/api/v1/sessions/current"));
    pass(step, "204");

    // --- catalogue structure: categories, variant groups, images -------------------------
    step = "admin builds a category tree (POST /categories)";
    const clothing = (await expectBody(step, 201, admin.POST("/api/v1/categories", { body: { name: `Clothing ${tag}`, slug: `clothing-${tag}` } }))).body;
    const shirts = (
        await expectBody(step, 201, admin.POST("/api/v1/categories", { body: { name: `Shirts ${tag}`, slug: `shirts-${tag}`, parent_id: clothing.id } }))
    ).body;
    equal(step, "parent_id", shirts.parent_id, clothing.id);
    pass(step, `201 × 2, ${clothing.slug} > ${shirts.slug}`);

    step = "read the whole tree (GET /categories)";
    const tree = await expectBody(step, 200, anonymous.GET("/api/v1/categories"));
    const slugs = tree.body.items.map((c) => c.slug);
    check(step, slugs.indexOf(clothing.slug) >= 0 && slugs.indexOf(clothing.slug) < slugs.indexOf(shirts.slug), `parent after child: ${slugs.join(",")}`);
    check(step, (tree.response.headers.get("etag") ?? "") !== "", "no ETag");
    pass(step, `200, ${tree.body.items.length} categories, each after its parent`);

    step = "admin creates a variant group (POST /product-groups)";
    const group = (
        await expectBody(step, 201, admin.POST("/api/v1/product-groups", { body: { name: `Linen shirt ${tag}`, options: { size: ["S", "M", "L"] } } }))
    ).body;
    pass(step, `201, group ${group.id}`);

    const variants: Product[] = [];
    for (const [size, price] of [["S", "29.00"], ["M", "31.00"]] as const) {
        step = `admin adds the ${size} variant with a picture, filed under shirts (POST /products)`;
        const made = await expectBody(
            step,
            201,
            admin.POST("/api/v1/products", {
                body: {
                    name: `Linen shirt ${size} ${tag}`,
                    price,
                    inventory_count: 5,
                    category_ids: [shirts.id],
                    group_id: group.id,
                    options: { size },
                    images: [{ url: `https://images.example.com/${tag}-${size}.jpg`, alt: `Linen shirt, size ${size}` }],
                },
            }),
        );
        equal(step, "group_id", made.body.group_id, group.id);
        equal(step, "options.size", made.body.options?.["size"], size);
        equal(step, "first image", made.body.images[0]?.url, `https://images.example.com/${tag}-${size}.jpg`);
        variants.push(made.body);
        pass(step, `201, product ${made.body.id}`);
    }

    step = "a second variant with the same options is refused (POST /products)";
    await expectProblem(
        step,
        409,
        "already_exists",
        admin.POST("/api/v1/products", { body: { name: `Twin ${tag}`, price: "1.00", group_id: group.id, options: { size: "S" } } }),
    );
    pass(step, "409 already_exists");

    step = "browse the top category: its subcategories' products too (GET /products?category=...)";
    const inClothing = await expectBody(step, 200, anonymous.GET("/api/v1/products", { params: { query: { category: clothing.slug } } }));
    equal(step, "ids, newest first", inClothing.body.items.map((p) => p.id).join(","), variants.map((p) => p.id).reverse().join(","));
    pass(step, `200, ${inClothing.body.items.length} products under ${clothing.slug}`);

    step = "open the group (GET /product-groups/{id})";
    const openedGroup = await expectBody(step, 200, anonymous.GET("/api/v1/product-groups/{id}", { params: { path: { id: group.id } } }));
    equal(step, "variants", openedGroup.body.variants.map((v) => v.options?.["size"]).join(","), "S,M");
    const medium = openedGroup.body.variants.find((v) => v.options?.["size"] === "M");
    if (medium === undefined) {
        return fail(step, "no M variant");
    }
    pass(step, `200, sizes ${openedGroup.body.variants.map((v) => v.options?.["size"]).join("/")}`);

    step = "a guest adds the chosen variant to a cart (POST /cart/items)";
    const variantCart = await expectBody(step, 201, anonymous.POST("/api/v1/guest-carts"));
    const withVariantCart = { header: { "X-Cart-Token": variantCart.body.token } };
    const withVariant = (
        await expectBody(step, 201, anonymous.POST("/api/v1/cart/items", { params: withVariantCart, body: { product_id: medium.id, quantity: 1 } }))
    ).body;
    equal(step, "total", withVariant.total, medium.price);
    pass(step, `201, total ${withVariant.total}`);

    // --- log out ----------------------------------------------------------------------
    step = "log out (DELETE /sessions/current)";
    await expectEmpty(step, 204, shopper.DELETE("/api/v1/sessions/current"));
    pass(step, "204");

    step = "the old token is refused (GET /users/me)";
    const refused = await expectProblem(step, 401, "unauthorized", shopper.GET("/api/v1/users/me"));
    check(step, (refused.headers.get("www-authenticate") ?? "").startsWith("Bearer"), "no WWW-Authenticate: Bearer");
    pass(step, "401 unauthorized");

    step = "log the admin out (DELETE /sessions/current)";
    await expectEmpty(step, 204, admin.DELETE("/api/v1/sessions/current"));
    pass(step, "204");
}

try {
    await journey();
    console.log(`journey passed: ${stepNumber} steps`);
} catch (error: unknown) {
    if (error instanceof JourneyFailure) {
        console.error(`FAIL ${error.message}`);
    } else {
        // Not a mismatch: the service could not be reached, or the journey itself broke.
        console.error(`FAIL journey stopped after ${stepNumber} steps (is ${baseUrl} up?):`, error);
    }
    process.exitCode = 1;
}
